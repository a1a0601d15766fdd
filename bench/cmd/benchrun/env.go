package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ensurePackages installs nginx and haproxy with apt-get when they are missing.
func ensurePackages(ctx context.Context, logf func(string, ...any)) error {
	var missing []string
	for bin, pkg := range map[string]string{"nginx": "nginx", "haproxy": "haproxy", "taskset": "util-linux"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
				missing = append(missing, pkg)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	logf("installing %v with apt-get", missing)
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	install := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q"}, missing...)...)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		logf("apt-get install failed (%v), updating package lists first", err)
		upd := exec.CommandContext(ctx, "apt-get", "update", "-q")
		upd.Env = env
		if out, err := upd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %v: %s", err, tail(out))
		}
		install = exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q"}, missing...)...)
		install.Env = env
		if out, err = install.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get install %v: %v: %s", missing, err, tail(out))
		}
	}
	return nil
}

// lookBin finds a daemon binary in PATH or /usr/sbin (root's PATH may lack it).
func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

// build compiles the harness binaries and, when it builds, portcullis itself. It returns
// the portcullis binary path, or "" with the reason.
func build(ctx context.Context, root, bin string) (portcullis, why string, err error) {
	for _, c := range []string{"loadgen", "backend"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, c), "./bench/cmd/"+c)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("go build %s: %v: %s", c, err, out)
		}
	}
	pc := filepath.Join(bin, "portcullis")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", pc, "./cmd/portcullis")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "go build ./cmd/portcullis failed: " + tail(out), nil
	}
	if out, err := exec.CommandContext(ctx, pc, "run", "--help").CombinedOutput(); err != nil {
		return "", "portcullis run --help failed: " + tail(out), nil
	}
	return pc, "", nil
}

// hasCertsCmd reports whether the portcullis binary offers `certs`.
func hasCertsCmd(ctx context.Context, pc string) bool {
	return pc != "" && exec.CommandContext(ctx, pc, "certs", "--help").Run() == nil
}

// machine describes the host and the peers' versions for the report.
func machine(ctx context.Context, root, nginx, haproxy string) map[string]string {
	run := func(name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = root
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(firstLine(string(out)))
	}
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return map[string]string{
		"cpu":     cpu,
		"cores":   fmt.Sprint(runtime.NumCPU()),
		"kernel":  run("uname", "-r"),
		"go":      runtime.Version(),
		"nginx":   run(nginx, "-v"),
		"haproxy": run(haproxy, "-v"),
		"openssl": run("openssl", "version"),
		"commit":  commit(ctx, root),
	}
}

// commit names the checkout the binaries were built from; "+dirty" marks uncommitted
// changes to Go sources (the workspace may be shared with people editing it).
func commit(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no", "--", "cmd", "internal", "bench", "go.mod")
	st.Dir = root
	if dirty, err := st.Output(); err == nil && len(strings.TrimSpace(string(dirty))) > 0 {
		c += "+dirty"
	}
	return c
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return s
}
