package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The built command exits with run's status and keeps the private key off
// standard output.
func TestTheBuiltCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tollgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "keys", "-alg", "EdDSA", "-out", filepath.Join(dir, "k.pem")).Output()
	if err != nil || !strings.Contains(string(out), `"kty": "OKP"`) || strings.Contains(string(out), "PRIVATE") {
		t.Errorf("keys: %v\n%s", err, out)
	}
	err = exec.Command(bin, "explain", "-token", "a.b.c").Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("explain without an issuer: %v, want exit status 2", err)
	}
}
