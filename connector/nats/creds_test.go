package nats

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// user is a user of an account: its JWT, its seed and its .creds file.
type user struct {
	jwt, seed, creds string
}

// newAccount returns an account key pair and its JWT signed by operator,
// with JetStream on.
func newAccount(t *testing.T, operator nkeys.KeyPair) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	ac := jwt.NewAccountClaims(pub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	tok, err := ac.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	return kp, tok
}

// newUser returns a user of account, its .creds file written in dir.
func newUser(t *testing.T, account nkeys.KeyPair, dir, name string) user {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	tok, err := uc.Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	creds, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		t.Fatal(err)
	}
	u := user{jwt: tok, seed: string(seed), creds: filepath.Join(dir, name+".creds")}
	if err := os.WriteFile(u.creds, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return u
}

// operatorServer runs an embedded server in operator (decentralised JWT)
// mode: it trusts one operator and knows one account, with JetStream on.
// It returns the server's URL, a user of that account, and a user of an
// account signed by the same operator but unknown to the server.
func operatorServer(t *testing.T) (url string, known, stranger user) {
	t.Helper()
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := op.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "test-operator"
	opJWT, err := oc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	if oc, err = jwt.DecodeOperatorClaims(opJWT); err != nil {
		t.Fatal(err)
	}
	acc, accJWT := newAccount(t, op)
	accPub, _ := acc.PublicKey()
	other, _ := newAccount(t, op) // never given to the server
	// The system account, which the server needs for JetStream's API.
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	for pub, tok := range map[string]string{accPub: accJWT, sysPub: sysJWT} {
		if err := resolver.Store(pub, tok); err != nil {
			t.Fatal(err)
		}
	}
	_, url = embedded(t, t.TempDir(), 0, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{oc}
		o.AccountResolver = resolver
		o.SystemAccount = sysPub
	})
	dir := t.TempDir()
	return url, newUser(t, acc, dir, "sluiced"), newUser(t, other, dir, "stranger")
}

// A source and a destination authenticate with a .creds file against a
// server in operator mode: the source takes what a plain client
// published, the destination's events reach the stream.
func TestCredentialsFile(t *testing.T) {
	url, u, _ := operatorServer(t)
	_, js := client(t, url, natsgo.UserCredentials(u.creds))
	stream(t, js, "LOGS", "logs.>")
	stream(t, js, "OUT", "out.>")
	want := brokertest.Lines("creds-", 200)
	publish(t, js, "logs.app", want...)

	sc := DefaultSourceConfig()
	sc.URL, sc.Stream, sc.CredentialsFile = url, "LOGS", u.creds
	s, err := NewSource(sc, "test")
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, s)
	if got, _ := brokertest.Recv(t, s, len(want), true); !slices.Equal(got, want) {
		t.Fatalf("source got %d messages, first %q", len(got), got[:min(3, len(got))])
	}

	dc := DefaultDestinationConfig()
	dc.URL, dc.Subject, dc.CredentialsFile = url, "out.app", u.creds
	d, err := NewDestination(dc, "test")
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, d)
	send(t, d, brokertest.Events(want...))
	if got := readStream(t, js, "OUT", len(want)); !slices.Equal(got, want) {
		t.Fatalf("stream OUT got %d messages, first %q", len(got), got[:min(3, len(got))])
	}
}

// A well-formed .creds file of a user whose account the server does not
// know ends Run at start with an error naming credentialsFile, for the
// source and the destination; the seed is in no error or log line.
func TestCredentialsFileRefused(t *testing.T) {
	url, _, stranger := operatorServer(t)
	for _, kind := range []string{"source", "destination"} {
		t.Run(kind, func(t *testing.T) {
			var logs syncBuf
			log := WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			var r interface{ Run(context.Context) error }
			if kind == "source" {
				c := DefaultSourceConfig()
				c.URL, c.Stream, c.CredentialsFile = url, "LOGS", stranger.creds
				s, err := NewSource(c, "test", log)
				if err != nil {
					t.Fatal(err)
				}
				r = s
			} else {
				c := DefaultDestinationConfig()
				c.URL, c.Subject, c.CredentialsFile = url, "out.app", stranger.creds
				d, err := NewDestination(c, "test", log)
				if err != nil {
					t.Fatal(err)
				}
				r = d
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := r.Run(ctx)
			if ctx.Err() != nil {
				t.Fatal("Run retried refused credentials until the deadline")
			}
			if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "check credentialsFile") {
				t.Fatalf("Run = %v, want the refusal naming credentialsFile", err)
			}
			noSeed(t, stranger.seed, err.Error()+logs.String())
		})
	}
}

// A .creds file that is missing or does not hold a user JWT and that
// user's seed fails NewSource and NewDestination, naming the field and
// never quoting the file.
func TestCredentialsFileInvalid(t *testing.T) {
	dir := t.TempDir()
	op, _ := nkeys.CreateOperator()
	acc, accJWT := newAccount(t, op)
	a, b := newUser(t, acc, dir, "a"), newUser(t, acc, dir, "b")
	aCreds, _ := os.ReadFile(a.creds)
	// a's JWT with b's seed, decorated as nsc does (FormatUserConfig refuses it).
	swapped := strings.Replace(string(aCreds), a.seed, b.seed, 1)
	accSeed, _ := acc.Seed()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seedOnly := strings.Join(slices.DeleteFunc(strings.Split(string(aCreds), "\n"), func(l string) bool { return strings.HasPrefix(l, "ey") }), "\n")
	for _, tc := range []struct {
		name, path, want string
		seeds            []string // must not appear in the error
	}{
		{"missing", filepath.Join(dir, "nope.creds"), "credentialsFile: open " + filepath.Join(dir, "nope.creds"), nil},
		{"empty", write("empty.creds", ""), "credentialsFile: holds no user JWT", nil},
		{"seed alone, undecorated", write("seed.creds", a.seed+"\n"), "credentialsFile: holds no user JWT", []string{a.seed}},
		{"seed without its JWT", write("nojwt.creds", seedOnly), "credentialsFile: holds no user JWT", []string{a.seed}},
		{"JWT without a seed", write("noseed.creds", a.jwt+"\n"), "credentialsFile: holds no user NKey seed", nil},
		{"another user's seed", write("swapped.creds", swapped), "credentialsFile: its NKey seed is not the seed of its JWT's user", []string{b.seed}},
		{"an account JWT", write("account.creds", accJWT+"\n"+string(accSeed)+"\n"), "credentialsFile: holds no user JWT", []string{string(accSeed)}},
		{"garbage", write("garbage.creds", "-----BEGIN NATS USER JWT-----\nnot.a.jwt\n------END NATS USER JWT------\n"+a.seed), "credentialsFile: holds no user JWT", []string{a.seed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := DefaultSourceConfig()
			sc.URL, sc.Stream, sc.CredentialsFile = "nats://127.0.0.1:4222", "LOGS", tc.path
			_, serr := NewSource(sc, "test")
			dc := DefaultDestinationConfig()
			dc.URL, dc.Subject, dc.CredentialsFile = "nats://127.0.0.1:4222", "out", tc.path
			_, derr := NewDestination(dc, "test")
			for _, err := range []error{serr, derr} {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				for _, s := range tc.seeds {
					noSeed(t, s, err.Error())
				}
			}
		})
	}
	// The well-formed file passes.
	sc := DefaultSourceConfig()
	sc.URL, sc.Stream, sc.CredentialsFile = "nats://127.0.0.1:4222", "LOGS", a.creds
	if _, err := NewSource(sc, "test"); err != nil {
		t.Fatalf("a good .creds file: %v", err)
	}
}

// noSeed fails if any 8 characters of seed (past its 2-letter prefix)
// appear in out.
func noSeed(t *testing.T, seed, out string) {
	t.Helper()
	for i := 2; i+8 <= len(seed); i++ {
		if strings.Contains(out, seed[i:i+8]) {
			t.Fatalf("a piece of the seed %q appears in: %s", seed[i:i+8], out)
		}
	}
}
