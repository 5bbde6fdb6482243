package parse_test

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector/syslog/parse"
	"github.com/sluicehq/sluice/event"
)

func ExampleParse() {
	in := []byte(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry`)
	m, err := parse.Parse(in, parse.Auto, time.Now(), time.UTC)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Format, m.Facility, m.Severity, m.Timestamp.Format(time.RFC3339Nano))
	fmt.Printf("%s %s %s %q\n", m.Hostname, m.AppName, m.MsgID, m.Msg)
	sd := event.Syslog{StructuredData: string(m.StructuredData)}
	v, _ := sd.Param("exampleSDID@32473", "eventSource")
	fmt.Println(v)

	_, err = parse.Parse([]byte("<165>1 2003-10-11 22:14:15.003Z - - - - -"), parse.Auto, time.Now(), time.UTC)
	fmt.Println(err)
	// Output:
	// rfc5424 20 5 2003-10-11T22:14:15.003Z
	// mymachine.example.com evntslog ID47 "An application event log entry"
	// Application
	// syslog: rfc5424: offset 17: invalid timestamp
}

func ExampleParse_rfc3164() {
	now := time.Date(2026, time.January, 2, 0, 0, 0, 0, time.UTC)
	m, _ := parse.Parse([]byte("<38>Dec 31 23:59:59 gw sshd[42]: Accepted publickey for deploy\n"), parse.Auto, now, time.UTC)
	fmt.Println(m.Format, m.Timestamp)
	fmt.Printf("%s %s %s %q\n", m.Hostname, m.AppName, m.ProcID, m.Msg)
	// Output:
	// rfc3164 2025-12-31 23:59:59 +0000 UTC
	// gw sshd 42 "Accepted publickey for deploy"
}
