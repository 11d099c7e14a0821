package cond

import (
	"fmt"
	"net/netip"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// ipType is the CEL type of IP addresses: context attributes of type ip
// and the result of ip("..."). It is opaque: a condition compares
// addresses and asks for their network, nothing more.
var ipType = cel.OpaqueType("warden.IP")

// ipVal is an IP address as CEL sees it.
type ipVal struct{ a netip.Addr }

func (v ipVal) ConvertToNative(t reflect.Type) (any, error) {
	switch t {
	case reflect.TypeFor[netip.Addr]():
		return v.a, nil
	case reflect.TypeFor[string]():
		return v.a.String(), nil
	}
	return nil, fmt.Errorf("ip: no conversion to %v", t)
}

func (v ipVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.StringType:
		return types.String(v.a.String())
	case types.TypeType:
		return ipType
	}
	return types.NewErr("ip: no conversion to %s", t.TypeName())
}

func (v ipVal) Equal(o ref.Val) ref.Val {
	w, ok := o.(ipVal)
	return types.Bool(ok && v.a == w.a)
}

func (v ipVal) Type() ref.Type { return ipType }
func (v ipVal) Value() any     { return v.a }

// ipFunctions are ip(string) and ip.in_cidr(string), on net/netip.
func ipFunctions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("ip",
			cel.Overload("string_to_ip", []*cel.Type{cel.StringType}, ipType,
				cel.UnaryBinding(func(s ref.Val) ref.Val {
					str, ok := s.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(s)
					}
					a, err := netip.ParseAddr(string(str))
					if err != nil || a.Zone() != "" {
						return types.NewErr("ip: %q is not an IP address", short(string(str)))
					}
					return ipVal{a}
				}))),
		cel.Function("in_cidr",
			cel.MemberOverload("ip_in_cidr_string", []*cel.Type{ipType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(ip, cidr ref.Val) ref.Val {
					v, ok := ip.(ipVal)
					if !ok {
						return types.MaybeNoSuchOverloadErr(ip)
					}
					c, ok := cidr.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(cidr)
					}
					p, err := netip.ParsePrefix(string(c))
					if err != nil {
						return types.NewErr("in_cidr: %q is not a CIDR range", short(string(c)))
					}
					// An IPv4 address written as IPv6 (::ffff:10.1.2.3) is
					// in IPv4 ranges, as the network sees it.
					return types.Bool(p.Contains(v.a) || v.a.Is4In6() && p.Contains(v.a.Unmap()))
				}))),
	}
}

// constantCIDR replaces x.in_cidr("CIDR") whose range is a constant with
// a node that holds the range already parsed, so an evaluation does not
// parse it again.
func constantCIDR(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok || call.OverloadID() != "ip_in_cidr_string" || len(call.Args()) != 2 {
		return i, nil
	}
	c, ok := call.Args()[1].(interpreter.InterpretableConst)
	if !ok {
		return i, nil
	}
	s, ok := c.Value().(types.String)
	if !ok {
		return i, nil
	}
	p, err := prefixFromString(string(s))
	if err != nil {
		return i, nil // reported at compile time; evaluating fails as without this
	}
	return &inCIDR{id: call.ID(), ip: call.Args()[0], prefix: p}, nil
}

type inCIDR struct {
	id     int64
	ip     interpreter.InterpretableV2
	prefix netip.Prefix
}

func (n *inCIDR) ID() int64 { return n.id }

func (n *inCIDR) Exec(f *interpreter.ExecutionFrame) ref.Val {
	v := n.ip.Exec(f)
	a, ok := v.(ipVal)
	if !ok {
		if types.IsUnknownOrError(v) {
			return v
		}
		return types.MaybeNoSuchOverloadErr(v)
	}
	return types.Bool(n.prefix.Contains(a.a) || a.a.Is4In6() && n.prefix.Contains(a.a.Unmap()))
}

func (n *inCIDR) Eval(a interpreter.Activation) ref.Val {
	f, err := interpreter.NewExecutionFrame(a)
	if err != nil {
		return types.WrapErr(err)
	}
	defer f.Close()
	return n.Exec(f)
}
