package decode

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// secretDoc mirrors core/v1 Secret with data kept as strings, so that a bad base64 value
// can be reported by key (encoding/json would only say "illegal base64 data at input byte 7").
type secretDoc struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Immutable         *bool             `json:"immutable,omitempty"`
	Data              map[string]string `json:"data,omitempty"`
	StringData        map[string]string `json:"stringData,omitempty"`
	Type              corev1.SecretType `json:"type,omitempty"`
}

// decodeSecret decodes a v1 Secret, merging stringData over data as the API server does.
func (d *docDecoder) decodeSecret(js []byte, tm typeMeta) {
	var doc secretDoc
	if !d.strict(js, &doc, tm) || !d.checkMeta(&doc.ObjectMeta, tm) {
		return
	}
	tm.Metadata.Namespace = doc.Namespace
	data := make(map[string][]byte, len(doc.Data)+len(doc.StringData))
	ok := true
	for _, k := range sortedKeys(doc.Data) {
		v, err := base64.StdEncoding.DecodeString(doc.Data[k])
		if err != nil {
			d.add(diag.Error, tm, dataField(k), fmt.Sprintf("value of key %q is not valid base64: %v", k, err))
			ok = false
			continue
		}
		data[k] = v
	}
	for _, k := range sortedKeys(doc.StringData) {
		data[k] = []byte(doc.StringData[k])
	}
	for _, k := range sortedKeys(data) {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			d.add(diag.Error, tm, dataField(k), fmt.Sprintf("invalid key %q: %s", k, strings.Join(errs, "; ")))
			ok = false
		}
	}
	if !ok {
		return
	}
	if doc.Type == "" {
		doc.Type = corev1.SecretTypeOpaque
	}
	s := &corev1.Secret{
		TypeMeta:   doc.TypeMeta,
		ObjectMeta: doc.ObjectMeta,
		Immutable:  doc.Immutable,
		Data:       data,
		Type:       doc.Type,
	}
	d.bundle.Secrets = append(d.bundle.Secrets, resources.Secret{Source: d.source(), Secret: s})
}

func (d *docDecoder) decodeService(js []byte, tm typeMeta) {
	var s corev1.Service
	if !d.strict(js, &s, tm) || !d.checkMeta(&s.ObjectMeta, tm) {
		return
	}
	d.bundle.Services = append(d.bundle.Services, resources.Service{Source: d.source(), Service: &s})
}

func (d *docDecoder) decodeEndpointSlice(js []byte, tm typeMeta) {
	var s discoveryv1.EndpointSlice
	if !d.strict(js, &s, tm) || !d.checkMeta(&s.ObjectMeta, tm) {
		return
	}
	d.bundle.EndpointSlices = append(d.bundle.EndpointSlices, resources.EndpointSlice{Source: d.source(), EndpointSlice: &s})
}

// strict decodes js into v strictly, reporting every problem; it returns false if any.
func (d *docDecoder) strict(js []byte, v any, tm typeMeta) bool {
	errs := strictUnmarshal(js, v)
	for _, fe := range errs {
		d.add(diag.Error, tm, fe.Field, fe.Message)
	}
	return len(errs) == 0
}

// checkMeta requires a name and defaults the namespace; it returns false on error.
func (d *docDecoder) checkMeta(om *metav1.ObjectMeta, tm typeMeta) bool {
	if om.Name == "" {
		d.add(diag.Error, tm, "metadata.name", "name is required")
		return false
	}
	if om.Namespace == "" {
		om.Namespace = DefaultNamespace
	}
	return true
}

// dataField is the field path of a Secret key: data.cert, data["tls.crt"].
func dataField(key string) string {
	return "data" + renderPath([]pathSeg{{key: key}})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodePod keeps what subsets need of a Pod: namespace, name, labels and status.podIP
// (the rest of a full manifest is checked, then dropped).
func (d *docDecoder) decodePod(js []byte, tm typeMeta) {
	var p corev1.Pod
	if !d.strict(js, &p, tm) || !d.checkMeta(&p.ObjectMeta, tm) {
		return
	}
	if ip := p.Status.PodIP; ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			d.add(diag.Error, tm, "status.podIP", fmt.Sprintf("%q is not an IP address", ip))
			return
		}
	}
	d.bundle.Pods = append(d.bundle.Pods, resources.Pod{Source: d.source(), Namespace: p.Namespace, Name: p.Name,
		Labels: p.Labels, IP: p.Status.PodIP})
}
