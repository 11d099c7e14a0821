package cond

import (
	"fmt"
	"net/netip"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
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
