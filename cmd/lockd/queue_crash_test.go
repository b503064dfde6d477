package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// qMessage is a delivery read from a dequeue response.
type qMessage struct {
	api.Message
	payload string
}

func qEnqueue(base, queue, payload string) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormField("meta")
	json.NewEncoder(w).Encode(map[string]any{"queue": queue, "payload_content_type": "text/plain"})
	w, _ = mw.CreateFormField("payload")
	io.WriteString(w, payload)
	mw.Close()
	st, body, err := post(base, "/v1/queue/enqueue", buf.String(), "Content-Type", mw.FormDataContentType())
	if err != nil || st != 200 {
		return "", fmt.Errorf("enqueue: %d %s %v", st, body, err)
	}
	var res api.EnqueueResponse
	return res.MessageID, json.Unmarshal(body, &res)
}

// qDequeue returns nil (no error) when the queue stayed empty.
func qDequeue(base string, req map[string]any) ([]qMessage, error) {
	return qDequeueShed(base, req, 0)
}

// qDequeueShed is qDequeue after shed answers (429) to the same request.
func qDequeueShed(base string, req map[string]any, shed int) ([]qMessage, error) {
	b, _ := json.Marshal(req)
	resp, err := client.Post(base+"/v1/queue/dequeue", "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == 409 {
		return nil, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests && shed < 300 { // shed under load: ask again (post does the same)
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
		return qDequeueShed(base, req, shed+1)
	}
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("dequeue: %d %s", resp.StatusCode, data)
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	var out []qMessage
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		meta, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var dr api.DequeueResponse
		if err := json.NewDecoder(meta).Decode(&dr); err != nil {
			return nil, err
		}
		p, err := mr.NextPart()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		out = append(out, qMessage{Message: dr.Message, payload: string(data)})
	}
}

func qAck(base string, m api.Message) (int, error) {
	st, _, err := post(base, "/v1/queue/ack", map[string]any{"queue": m.Queue, "message_id": m.MessageID,
		"lease_id": m.LeaseID, "fencing_token": m.FencingToken, "meta_etag": m.MetaETag})
	return st, err
}

// payloadFor makes every fifth payload larger than the inline limit, so
// both record-inline and blob payloads are crashed.
func payloadFor(w, i int) string {
	p := fmt.Sprintf("w%d-%d", w, i)
	if i%5 == 0 {
		p += ":" + strings.Repeat("x", 20<<10)
	}
	return p
}

// Every enqueue that answered 200 before kill -9 is delivered after the
// restart (messages in flight at the kill come back after their visibility
// timeout); no message whose ack answered 200 comes back.
func TestQueueMessagesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p := startLockd(t, "--store", "disk://"+dir, crashLoadFlag)
	var mu sync.Mutex
	enqueued := map[string]string{} // id -> payload
	acked := map[string]bool{}
	ackUnknown := map[string]bool{} // ack sent, answer lost in the kill
	var count atomic.Int64
	var quit workerErrs
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				payload := payloadFor(w, i)
				id, err := qEnqueue(p.URL, "crash", payload)
				if err != nil {
					quit.note(stop, err)
					return
				}
				mu.Lock()
				enqueued[id] = payload
				mu.Unlock()
				count.Add(1)
			}
		}(w)
	}
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for n := 0; n < 5000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ms, err := qDequeue(p.URL, map[string]any{"queue": "crash", "owner": fmt.Sprint("c", c), "wait_seconds": 1,
					"page_size": 4, "visibility_timeout_seconds": 2})
				if err != nil {
					quit.note(stop, err)
					return
				}
				for k, m := range ms {
					if k%2 == 1 {
						continue // left in flight
					}
					if st, err := qAck(p.URL, m.Message); err != nil {
						mu.Lock()
						ackUnknown[m.MessageID] = true
						mu.Unlock()
						return
					} else if st == 200 {
						mu.Lock()
						acked[m.MessageID] = true
						mu.Unlock()
					}
				}
			}
		}(c)
	}
	deadline := time.Now().Add(60 * time.Second)
	for count.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // pacing the kill, not waiting for a result
	}
	p.kill()
	close(stop)
	wg.Wait()
	if count.Load() < 300 {
		t.Fatalf("only %d enqueues before the deadline; %s", count.Load(), quit.String())
	}

	p = startLockd(t, "--store", "disk://"+dir, crashLoadFlag)
	want := map[string]string{} // must come back
	maybe := 0                  // may come back (ack answer lost)
	for id, payload := range enqueued {
		switch {
		case acked[id]:
		case ackUnknown[id]:
			maybe++
		default:
			want[id] = payload
		}
	}
	t.Logf("%d enqueued, %d acked before kill -9; %d to drain, %d more may come back", len(enqueued), len(acked), len(want), maybe)
	seen := map[string]bool{}
	found := 0
	deadline = time.Now().Add(2 * time.Minute)
	for found < len(want) && time.Now().Before(deadline) {
		ms, err := qDequeue(p.URL, map[string]any{"queue": "crash", "owner": "drain", "wait_seconds": 5, "page_size": 64})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if acked[m.MessageID] {
				t.Fatalf("message %s was acked before the kill but came back", m.MessageID)
			}
			if w, ok := want[m.MessageID]; ok && w != m.payload {
				t.Fatalf("message %s payload changed: %d bytes, want %d", m.MessageID, len(m.payload), len(w))
			}
			if _, ok := want[m.MessageID]; ok && !seen[m.MessageID] {
				found++
			}
			seen[m.MessageID] = true
			if st, err := qAck(p.URL, m.Message); err != nil || st != 200 {
				t.Fatalf("drain ack: %d %v", st, err)
			}
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("acknowledged enqueue %s lost", id)
		}
	}
	if ms, err := qDequeue(p.URL, map[string]any{"queue": "crash", "owner": "drain", "wait_seconds": -1}); err != nil || len(ms) != 0 {
		t.Fatalf("queue not empty after drain: %d %v", len(ms), err)
	}
}

// A delivery made before kill -9 can still be acked after the restart: the
// lease, attempts and fencing token were durable.
func TestQueueAckAcrossKill9(t *testing.T) {
	dir := t.TempDir()
	p := startLockd(t, "--store", "disk://"+dir)
	if _, err := qEnqueue(p.URL, "restart", "hello"); err != nil {
		t.Fatal(err)
	}
	ms, err := qDequeue(p.URL, map[string]any{"queue": "restart", "owner": "w", "visibility_timeout_seconds": 300})
	if err != nil || len(ms) != 1 {
		t.Fatalf("dequeue: %v %v", ms, err)
	}
	p.kill()
	p = startLockd(t, "--store", "disk://"+dir)
	if st, err := qAck(p.URL, ms[0].Message); err != nil || st != 200 {
		t.Fatalf("ack after restart: %d %v", st, err)
	}
	if again, err := qDequeue(p.URL, map[string]any{"queue": "restart", "owner": "w", "wait_seconds": -1}); err != nil || len(again) != 0 {
		t.Fatalf("acked message delivered again: %v %v", again, err)
	}
}
