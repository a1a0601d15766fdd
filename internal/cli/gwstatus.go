package cli

import (
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/status"
)

// printStatus writes the Gateway API status `validate` computed, one line per object,
// listener and route parent: "status: Gateway ns/name Accepted=True Programmed=True".
func printStatus(out io.Writer, st []status.Update) {
	for _, u := range st {
		name := u.Name
		if u.Namespace != "" {
			name = u.Namespace + "/" + u.Name
		}
		switch s := u.Status.(type) {
		case *gwv1.GatewayClassStatus:
			fmt.Fprintf(out, "status: %s %s %s\n", u.Kind, name, conds(s.Conditions))
		case *gwv1.GatewayStatus:
			fmt.Fprintf(out, "status: %s %s %s\n", u.Kind, name, conds(s.Conditions))
			for _, l := range s.Listeners {
				fmt.Fprintf(out, "status:   listener %s attachedRoutes=%d %s\n", l.Name, l.AttachedRoutes, conds(l.Conditions))
			}
		case *gwv1.PolicyStatus:
			for _, a := range s.Ancestors {
				fmt.Fprintf(out, "status: %s %s ancestor %s %s\n", u.Kind, name, a.AncestorRef.Name, conds(a.Conditions))
			}
		default:
			if rs := routeStatus(u.Status); rs != nil {
				for _, p := range rs.Parents {
					pn := string(p.ParentRef.Name)
					if p.ParentRef.SectionName != nil {
						pn += "/" + string(*p.ParentRef.SectionName)
					}
					fmt.Fprintf(out, "status: %s %s parent %s %s\n", u.Kind, name, pn, conds(p.Conditions))
				}
			}
		}
	}
}

func routeStatus(s any) *gwv1.RouteStatus {
	switch s := s.(type) {
	case *gwv1.HTTPRouteStatus:
		return &s.RouteStatus
	case *gwv1.GRPCRouteStatus:
		return &s.RouteStatus
	case *gwv1.TLSRouteStatus:
		return &s.RouteStatus
	case *gwv1.TCPRouteStatus:
		return &s.RouteStatus
	}
	return nil
}

// conds renders conditions as Type=Status, with the reason and message when not True.
func conds(cs []metav1.Condition) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		p := c.Type + "=" + string(c.Status)
		if (c.Status != metav1.ConditionTrue) != (c.Type == "Conflicted") {
			p += "(" + c.Reason
			if c.Message != "" {
				p += ": " + c.Message
			}
			p += ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}
