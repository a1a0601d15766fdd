package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// images maps an image repository (the name without tag or digest) to the program, in
// --image-dir, that stands in for the image's entrypoint. Any tag is accepted: the
// program is whatever this module pins (go.mod), not the tagged build.
var images = map[string]string{
	"registry.k8s.io/gateway-api/echo-basic":    "echo-basic",
	"gcr.io/k8s-staging-gateway-api/echo-basic": "echo-basic",
}

// shellImage is our own test image: the host's /bin/sh, with the container's command
// and args, so tests can run short scripts (exit codes, restarts) inside a pod.
const shellImage = "portcullis.test/sh"

func repository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	// A ':' after the last '/' is a tag (a ':' before it is a registry port).
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// argv resolves a container to the command line to run, or explains why it cannot run.
func (p *provider) argv(c *corev1.Container) ([]string, error) {
	repo := repository(c.Image)
	if repo == shellImage {
		cmd := c.Command
		if len(cmd) == 0 {
			cmd = []string{"/bin/sh"}
		}
		if cmd[0] != "sh" && cmd[0] != "/bin/sh" {
			return nil, fmt.Errorf("image %s only has /bin/sh, not %q", c.Image, cmd[0])
		}
		return append([]string{"/bin/sh"}, append(cmd[1:], c.Args...)...), nil
	}
	prog, ok := images[repo]
	if !ok {
		return nil, fmt.Errorf("image %s is not one of the images this node can run (%s, %s)", c.Image, strings.Join(keys(images), ", "), shellImage)
	}
	if len(c.Command) > 0 {
		return nil, fmt.Errorf("image %s: overriding the entrypoint (command %q) is not supported", c.Image, c.Command)
	}
	path := filepath.Join(p.cfg.imageDir, prog)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("image %s: program %s: %w", c.Image, prog, err)
	}
	return append([]string{path}, c.Args...), nil
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dirOf(path string) string { return filepath.Dir(path) }
