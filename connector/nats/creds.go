package nats

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/nats-io/nkeys"
)

// checkCreds checks that the .creds file at path holds a user JWT and the
// NKey seed of that same user, as nsc writes them. Its errors never
// quote what the file holds: the seed is a secret, and a file without the
// usual markers would be quoted whole.
func checkCreds(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err // names the path, never the contents
	}
	defer clear(data)
	tok, _ := nkeys.ParseDecoratedJWT(data) // without markers: the whole file
	user, ok := userJWTSubject(tok)
	if !ok {
		return errors.New("holds no user JWT (want a .creds file with the user JWT and its NKey seed, as nsc writes it)")
	}
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return errors.New("holds no user NKey seed (a line starting SU)")
	}
	defer kp.Wipe()
	if pub, err := kp.PublicKey(); err != nil || pub != user {
		return errors.New("its NKey seed is not the seed of its JWT's user")
	}
	return nil
}

// userJWTSubject returns the subject (the user's public key) of tok if it
// is a user JWT. It checks the form only: the server checks signatures.
func userJWTSubject(tok string) (string, bool) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		Sub  string `json:"sub"`
		NATS struct {
			Type string `json:"type"`
		} `json:"nats"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.NATS.Type != "user" || !nkeys.IsValidPublicUserKey(claims.Sub) {
		return "", false
	}
	return claims.Sub, true
}
