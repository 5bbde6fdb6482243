package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The packaged configs, /etc/sluiced/sluiced.hujson of the .deb and of
// the container image, pass the binary's own validate.
func TestPackagedConfigValidates(t *testing.T) {
	for _, path := range []string{"../packaging/sluiced.hujson", "../packaging/container.hujson"} {
		code, out := runSluiced(t, sluicedCmd(t, "validate", path))
		if code != 0 || !strings.Contains(out, path+": ok (1 sources, 1 destinations") {
			t.Errorf("validate %s: exit %d: %s", path, code, out)
		}
	}
}

// The unit passes systemd-analyze verify with nothing to say, in a root
// that has the binary where ExecStart expects it, and its offline security
// analysis rates its exposure 2.0 or less ("OK"): taking hardening out of
// the unit fails this test.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	root := t.TempDir()
	for _, dir := range []string{"usr/bin", "usr/lib/systemd", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"usr/bin", "bin"}, {"usr/lib", "lib"}} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, sluiced, filepath.Join(root, "usr/bin/sluiced"), 0o755)
	kill, err := exec.LookPath("kill") // ExecReload's /bin/kill
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, kill, filepath.Join(root, "usr/bin/kill"), 0o755)
	// The targets the unit names (multi-user.target, network.target, ...).
	if out, err := exec.Command("cp", "-r", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy the system's units: %v: %s", err, out)
	}
	copyFile(t, "../packaging/sluiced.service", filepath.Join(root, "etc/systemd/system/sluiced.service"), 0o644)

	out, err := exec.Command(analyze, "verify", "--root="+root, "sluiced.service").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command(analyze, "security", "--offline=yes", "--no-pager", "--root="+root, "sluiced.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for sluiced.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure %.1f, want at most 2.0:\n%s", level, out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}

// The .deb, built by scripts/deb with nFPM, installs with dpkg -i: the
// binary, the unit and the config file (a conffile) are where the unit
// expects them, the installed binary validates the installed config and
// says the version it was built as, and the installed unit verifies. Then
// dpkg -r removes the binary and keeps the edited-or-not conffile, as
// Debian does, and dpkg -P removes that too. It installs system-wide, so
// it runs only under SLUICE_E2E=1 (as in CI).
func TestDebInstalls(t *testing.T) {
	if os.Getenv("SLUICE_E2E") != "1" {
		t.Skip("installs a package system-wide: set SLUICE_E2E=1 to run it")
	}
	dpkg := need(t, "dpkg")
	if os.Geteuid() != 0 {
		t.Fatal("dpkg -i needs root")
	}
	build := exec.Command("../scripts/deb")
	build.Stderr = os.Stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("scripts/deb: %v", err)
	}
	deb := filepath.Join("..", strings.TrimSpace(string(out)))
	version, err := os.ReadFile("../dist/VERSION")
	if err != nil {
		t.Fatal(err)
	}

	dpkgRun(t, dpkg, "-i", deb)
	t.Cleanup(func() { dpkgRun(t, dpkg, "-P", "sluiced") })
	for _, f := range []string{"/usr/bin/sluiced", "/lib/systemd/system/sluiced.service", "/etc/sluiced/sluiced.hujson"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("installed: %v", err)
		}
	}
	if out, err := exec.Command("dpkg-query", "--showformat=${Conffiles}", "--show", "sluiced").Output(); err != nil || !strings.Contains(string(out), "/etc/sluiced/sluiced.hujson") {
		t.Errorf("conffiles: %q, %v", out, err)
	}
	code, got := runSluiced(t, binCmd(t, "/usr/bin/sluiced", "validate", "--config", "/etc/sluiced/sluiced.hujson"))
	if code != 0 || !strings.Contains(got, "/etc/sluiced/sluiced.hujson: ok (") {
		t.Errorf("installed validate: exit %d: %s", code, got)
	}
	code, got = runSluiced(t, binCmd(t, "/usr/bin/sluiced", "version"))
	if want := "sluiced " + strings.TrimSpace(string(version)) + "\n"; code != 0 || !strings.HasPrefix(got, want) {
		t.Errorf("installed version: exit %d: %q, want it to start %q", code, got, want)
	}
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command(analyze, "verify", "/lib/systemd/system/sluiced.service").CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify of the installed unit: %v\n%s", err, out)
		}
	}

	dpkgRun(t, dpkg, "-r", "sluiced")
	if _, err := os.Stat("/usr/bin/sluiced"); !os.IsNotExist(err) {
		t.Errorf("after dpkg -r, /usr/bin/sluiced: %v", err)
	}
	if _, err := os.Stat("/etc/sluiced/sluiced.hujson"); err != nil {
		t.Errorf("after dpkg -r, the conffile should stay: %v", err)
	}
	dpkgRun(t, dpkg, "-P", "sluiced")
	if _, err := os.Stat("/etc/sluiced/sluiced.hujson"); !os.IsNotExist(err) {
		t.Errorf("after dpkg -P, the conffile: %v", err)
	}
}

// dpkgRun runs dpkg with args, waiting (up to 5 minutes) while another
// process holds dpkg's lock.
func dpkgRun(t *testing.T, dpkg string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out, err := exec.Command(dpkg, args...).CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		time.Sleep(2 * time.Second)
	}
}
