package config

import "testing"

func TestSuggest(t *testing.T) {
	names := []string{"addr", "maxConnections", "bucketName", "id", "timeout", "timeouts"}
	tests := []struct{ key, want string }{
		{"adr", "addr"},
		{"addrr", "addr"},
		{"adrd", "addr"}, // a swap counts as one edit
		{"ADDR", "addr"},
		{"bucketname", "bucketName"},
		{"BucketName", "bucketName"},
		{"maxconnection", "maxConnections"},
		{"maxConns", ""},
		{"timout", "timeout"},
		{"timeoutss", "timeouts"},
		{"Timeouts", "timeouts"}, // case wins over distance
		{"ip", "id"},
		{"x", ""},  // too short to guess
		{"ab", ""}, // distance 2 from "id", not nearer than it is long
		{"bogus", ""},
		{"", ""},
		{"añdr", "addr"},
	}
	for _, tc := range tests {
		if got := suggest(tc.key, names); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "", 1},
		{"", "abc", 3},
		{"abc", "abc", 0},
		{"abc", "abd", 1},
		{"abc", "acb", 1},
		{"ca", "abc", 3},
		{"kitten", "sitting", 3},
		{"héllo", "hello", 1},
	}
	for _, tc := range tests {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := distance(tc.b, tc.a); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}
