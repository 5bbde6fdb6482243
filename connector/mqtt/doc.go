// Package mqtt is the "mqtt" source and destination: MQTT 3.1.1 (what
// mosquitto and most devices speak) with github.com/eclipse/paho.mqtt.golang.
// Field names are those of kawa's daemon, so its configs carry over.
//
// # Source: a persistent session, acknowledged after delivery
//
// The source connects with clean session off and subscribes to its topic
// filter. The broker keeps the session under the client id, so what is
// published while sluiced is down (stopped, crashed, restarting) waits
// at the broker and arrives after the restart. paho's automatic
// acknowledgement is off: a message's PUBACK goes to the broker only once
// the destination acked it and every message received before it (MQTT
// 3.1.1 §4.6 asks for PUBACKs in the order of the PUBLISHes). A message
// received and not acknowledged when sluiced dies is sent again by the
// broker, with the DUP flag, when the session resumes.
//
//	Moment                                  What happens
//	--------------------------------------  --------------------------------------------
//	destination acks message n              PUBACK n, once 1..n-1 are acked too
//	sluiced killed with messages in flight  the broker resends each one not PUBACKed:
//	                                        duplicates, at most maxInflight (and at most
//	                                        the broker's max_inflight_messages)
//	sluiced down                            the broker queues for the session (see the
//	                                        limits below)
//	connection lost                         paho reconnects; the broker resends, with
//	                                        DUP and the same packet id, each message
//	                                        not PUBACKed. A copy of one the source
//	                                        holds is not handed on (the original's
//	                                        ack sends the PUBACK, on the new
//	                                        connection), nor is a copy of one acked
//	                                        while disconnected (PUBACKed again, in
//	                                        order). A copy of one whose PUBACK went
//	                                        out just before the loss is handed on
//	                                        again: a duplicate, because the broker
//	                                        may have had that PUBACK and reused the
//	                                        id for a new message
//	message over maxMessageBytes            PUBACKed in its turn, not passed on, counted
//	                                        (dropped, "oversize") and logged
//
// # Destination: QoS 1 publishes, acked on PUBACK
//
// Events are grouped in batches (package batch). A batch's publishes are
// written together, and its ack waits for a PUBACK for every one. A batch
// that fails or is not acknowledged within ackTimeout is published again,
// whole: the broker may hold part of it twice. The destination reconnects
// by itself, not with paho's auto-reconnect, which resends what was in
// flight and completes those publishes as if acknowledged: a lost
// connection fails the batches in flight, which are published again once
// it is back.
//
// # Broker settings (mosquitto)
//
// mosquitto's defaults silently drop or throttle what a log pipeline
// sends. Set in mosquitto.conf:
//
//	persistence true           # else a broker restart loses every queued message
//	autosave_interval 60       # default 1800 s: the persistence file is written
//	                           # that often and at a clean stop, so a broker
//	                           # crash loses what came since (mosquitto never
//	                           # fsyncs each message; a PUBACK from it means
//	                           # "in its memory")
//	max_queued_messages 0      # default 1000 per client: more is DROPPED while
//	                           # sluiced is down (0: no limit; or a count that
//	                           # covers your longest outage)
//	max_queued_bytes 0         # the same limit in bytes (default 0, none)
//	max_inflight_messages 1000 # default 20: QoS 1 messages on their way to
//	                           # sluiced at once; 20 caps throughput at 20 per
//	                           # round trip. Keep it at most the source's
//	                           # maxInflight (default 1000).
//	message_size_limit 0       # or the destination's maxMessageBytes or more
//
// The broker stops sending when max_inflight_messages are unacknowledged.
// If it allows more than maxInflight, sluiced stops reading the
// connection once maxInflight are held; the broker's keep-alive then
// waits for sluiced, and a long stall can end in a reconnect (the
// copies then resent are handled as the table says; the message sluiced
// was waiting to take is taken after the reconnect). Each source needs a client id of its own (two clients with
// one id take the session from each other): the default,
// sluiced-HOST-NAME, differs per host.
package mqtt
