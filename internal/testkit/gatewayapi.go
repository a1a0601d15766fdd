package testkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// GatewayAPIStatus reads the Gateway API status a running gateway computed, from its
// admin endpoint's /config_dump, flattened for assertions:
//
//	"Kind ns/name Type"             -> "Status/Reason" (object conditions; ns empty for GatewayClass)
//	"Kind ns/name listener Type"    -> "Status/Reason" (Gateway listener conditions)
//	"Kind ns/name listener attachedRoutes" -> "N"
//	"Kind ns/name parentName Type"  -> "Status/Reason" (route parent conditions)
func GatewayAPIStatus(t testing.TB, admin string) map[string]string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + admin + "/config_dump")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type cond struct{ Type, Status, Reason string }
	var dump struct {
		GatewayAPIStatus []struct {
			Kind, Namespace, Name string
			Status                struct {
				Conditions []cond `json:"conditions"`
				Listeners  []struct {
					Name           string `json:"name"`
					AttachedRoutes int    `json:"attachedRoutes"`
					Conditions     []cond `json:"conditions"`
				} `json:"listeners"`
				Parents []struct {
					ParentRef struct {
						Name string `json:"name"`
					} `json:"parentRef"`
					Conditions []cond `json:"conditions"`
				} `json:"parents"`
				Ancestors []struct {
					AncestorRef struct {
						Name string `json:"name"`
					} `json:"ancestorRef"`
					Conditions []cond `json:"conditions"`
				} `json:"ancestors"`
			}
		} `json:"gatewayAPIStatus"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dump); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	put := func(prefix string, cs []cond) {
		for _, c := range cs {
			out[prefix+c.Type] = c.Status + "/" + c.Reason
		}
	}
	for _, u := range dump.GatewayAPIStatus {
		k := u.Kind + " " + u.Namespace + "/" + u.Name + " "
		put(k, u.Status.Conditions)
		for _, l := range u.Status.Listeners {
			put(k+l.Name+" ", l.Conditions)
			out[k+l.Name+" attachedRoutes"] = fmt.Sprint(l.AttachedRoutes)
		}
		for _, p := range u.Status.Parents {
			put(k+p.ParentRef.Name+" ", p.Conditions)
		}
		for _, a := range u.Status.Ancestors { // policies: per ancestor Gateway
			put(k+a.AncestorRef.Name+" ", a.Conditions)
		}
	}
	return out
}

// GatewayClassYAML is the GatewayClass "portcullis" of portcullis' default controller name.
const GatewayClassYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portcullis}
spec: {controllerName: portcullis.io/gateway-controller}
`
