package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// resolveEnv computes a container's environment as the kubelet would, once the pod has
// its IP: envFrom (ConfigMaps, Secrets, with prefix), then env (values, fieldRefs,
// configMapKeyRef, secretKeyRef), later entries winning. virtual-kubelet's own resolver
// runs before the provider assigns the IP and refuses status.podIP, so the pod
// controller is told to skip it (SkipDownwardAPIResolution) and this does the job.
// Unsupported: resourceFieldRef, fileKeyRef and $(VAR) expansion, all refused loudly.
func (p *provider) resolveEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, addr netip.Addr) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, from := range c.EnvFrom {
		data, err := p.envFromData(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if strings.Contains(e.Value, "$(") {
			return nil, fmt.Errorf("env %s: $(VAR) expansion is not supported", e.Name)
		}
		if e.ValueFrom == nil {
			set(e.Name, e.Value)
			continue
		}
		v, skip, err := p.envSource(ctx, pod, e.ValueFrom, addr)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + pod.Name}
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

func optional(b *bool) bool { return b != nil && *b }

// envFromData reads the ConfigMap or Secret an envFrom entry names; a missing optional
// one gives no variables.
func (p *provider) envFromData(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	data := map[string]string{}
	var name string
	var opt *bool
	var err error
	if r := from.ConfigMapRef; r != nil {
		name, opt = "configMap "+r.Name, r.Optional
		var cm *corev1.ConfigMap
		if cm, err = p.client.CoreV1().ConfigMaps(ns).Get(ctx, r.Name, metav1.GetOptions{}); err == nil {
			data = cm.Data
		}
	} else if r := from.SecretRef; r != nil {
		name, opt = "secret "+r.Name, r.Optional
		var s *corev1.Secret
		if s, err = p.client.CoreV1().Secrets(ns).Get(ctx, r.Name, metav1.GetOptions{}); err == nil {
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
	}
	if err != nil && !optional(opt) {
		return nil, fmt.Errorf("envFrom %s: %w", name, err)
	}
	return data, nil
}

func (p *provider) envSource(ctx context.Context, pod *corev1.Pod, src *corev1.EnvVarSource, addr netip.Addr) (v string, skip bool, err error) {
	switch {
	case src.FieldRef != nil:
		v, err := p.fieldRef(pod, src.FieldRef.FieldPath, addr)
		return v, false, err
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		cm, err := p.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[r.Key]; ok {
				return v, false, nil
			}
			err = fmt.Errorf("configMap %s has no key %s", r.Name, r.Key)
		}
		return "", optional(r.Optional), map[bool]error{true: nil, false: err}[optional(r.Optional)]
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		s, err := p.client.CoreV1().Secrets(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := s.Data[r.Key]; ok {
				return string(v), false, nil
			}
			err = fmt.Errorf("secret %s has no key %s", r.Name, r.Key)
		}
		return "", optional(r.Optional), map[bool]error{true: nil, false: err}[optional(r.Optional)]
	}
	return "", false, fmt.Errorf("only fieldRef, configMapKeyRef and secretKeyRef are supported")
}

func (p *provider) fieldRef(pod *corev1.Pod, path string, addr netip.Addr) (string, error) {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return addr.String(), nil
	case "status.hostIP", "status.hostIPs":
		return p.gateway.String(), nil
	}
	return "", fmt.Errorf("fieldRef %s is not supported", path)
}
