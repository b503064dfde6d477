package edge

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
)

// The field-by-field enqueue reply says what encoding/json says of
// api.EnqueueResponse.
func TestEnqueueReplyMatchesEncodingJSON(t *testing.T) {
	for _, res := range []queues.EnqueueResult{
		{Ref: queues.Ref{Namespace: "default", Queue: "jobs"}, ID: "01a2", MaxAttempts: 5, NotVisibleUntil: time.Unix(1795677912, 0),
			Visibility: 30 * time.Second, Size: 256, CorrelationID: `c"<&>\` + "\u2028"},
		{Ref: queues.Ref{Namespace: "ns", Queue: "q", DLQ: true}, ID: "x"},
	} {
		o := &jsonObject{b: []byte{'{'}}
		enqueueReply(o, res)
		want, _ := json.Marshal(api.EnqueueResponse{
			Namespace: res.Namespace, Queue: res.Name(), MessageID: res.ID, MaxAttempts: int64(res.MaxAttempts),
			NotVisibleUntilUnix: res.NotVisibleUntil.Unix(), VisibilityTimeoutSeconds: int64(res.Visibility / time.Second),
			PayloadBytes: res.Size, CorrelationID: res.CorrelationID,
		})
		var got, exp map[string]any
		if err := json.Unmarshal(o.end(), &got); err != nil {
			t.Fatalf("%s: %v", o.end(), err)
		}
		json.Unmarshal(want, &exp)
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("reply %s, encoding/json %s", o.end(), want)
		}
	}
}
