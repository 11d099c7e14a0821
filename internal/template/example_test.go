package template_test

import (
	"errors"
	"fmt"

	"github.com/warden-authz/warden/internal/template"
)

func Example() {
	// Parsed once, when the guard is made.
	tp, err := template.Parse("articles:{category}:{id}")
	if err != nil {
		panic(err)
	}

	type Article struct {
		Category string `json:"category"`
		ID       int    `json:"id"`
	}
	name, err := tp.Resolve(template.Value(&Article{Category: "animals", ID: 42}))
	fmt.Println(name, err)

	// A value that would widen the index is refused, never pasted in.
	_, err = tp.Resolve(template.Values(map[string]any{"category": "animals", "id": "1:*"}))
	fmt.Println(errors.Is(err, template.ErrInvalidReference))
	fmt.Println(err)
	// Output:
	// articles:animals:42 <nil>
	// true
	// invalid reference: template "articles:{category}:{id}": {id}: value "1:*" contains ':' at byte 1 (it would add a segment)
}

func ExampleParse() {
	for _, text := range []string{"{user.id}", "user-{id}", "articles:*"} {
		_, err := template.Parse(text)
		fmt.Println(err)
	}
	// Output:
	// <nil>
	// invalid template: "user-{id}": placeholder shares its segment with text (a placeholder fills a whole segment) at byte 5
	// invalid template: "articles:*": pattern character '*' (a template names one resource, never a pattern) at byte 9
}

func ExampleTemplate_Resolve_precedence() {
	tp := template.MustParse("user:{id}")
	type Body struct {
		ID string `json:"id"`
	}
	// Named arguments first, then the request body: the first source that
	// has the placeholder supplies it.
	name, _ := tp.Resolve(
		template.Values(map[string]any{"id": 7}),
		template.Value(&Body{ID: "from-body"}),
	)
	fmt.Println(name)
	// Output:
	// user:7
}
