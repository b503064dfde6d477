package edge

import "github.com/lockdhq/lockd/sdk/api"

// decodeControl decodes a hot control body, by decodeFlat when it can and
// strictly with encoding/json otherwise (and for every error).
func (c *call) decodeControl(v any) error {
	body, err := c.readBody(maxControlBody)
	if err != nil {
		return err
	}
	if fastDecode(body, v) {
		return nil
	}
	return c.decodeStrictBytes(body, v, false)
}

// fastDecode fills the hot request types field by field. The field lists
// mirror sdk/api: a field added there but not here makes decodeFlat
// decline, and the body goes to encoding/json, so they cannot drift into
// wrong answers, only into the slow path.
func fastDecode(body []byte, v any) bool {
	switch r := v.(type) {
	case *api.AcquireRequest:
		return decodeFlat(body, func(k []byte, x flatValue) bool {
			switch string(k) {
			case "key":
				return setString(&r.Key, x)
			case "namespace":
				return setString(&r.Namespace, x)
			case "owner":
				return setString(&r.Owner, x)
			case "txn_id":
				return setString(&r.TxnID, x)
			case "ttl_seconds":
				return setInt(&r.TTLSeconds, x)
			case "block_seconds":
				return setInt(&r.BlockSeconds, x)
			case "if_not_exists":
				return setBool(&r.IfNotExists, x)
			}
			return false
		})
	case *api.ReleaseRequest:
		return decodeFlat(body, func(k []byte, x flatValue) bool {
			switch string(k) {
			case "key":
				return setString(&r.Key, x)
			case "namespace":
				return setString(&r.Namespace, x)
			case "lease_id":
				return setString(&r.LeaseID, x)
			case "txn_id":
				return setString(&r.TxnID, x)
			case "rollback":
				return setBool(&r.Rollback, x)
			}
			return false
		})
	case *api.AckRequest:
		return decodeFlat(body, func(k []byte, x flatValue) bool {
			switch string(k) {
			case "queue":
				return setString(&r.Queue, x)
			case "namespace":
				return setString(&r.Namespace, x)
			case "message_id":
				return setString(&r.MessageID, x)
			case "lease_id":
				return setString(&r.LeaseID, x)
			case "fencing_token":
				return setInt(&r.FencingToken, x)
			case "meta_etag":
				return setString(&r.MetaETag, x)
			case "txn_id":
				return setString(&r.TxnID, x)
			case "state_etag":
				return setString(&r.StateETag, x)
			case "state_lease_id":
				return setString(&r.StateLeaseID, x)
			case "state_fencing_token":
				return setInt(&r.StateFencingToken, x)
			}
			return false
		})
	case *api.EnqueueRequest: // attributes (an object) take the slow path
		return decodeFlat(body, func(k []byte, x flatValue) bool {
			switch string(k) {
			case "queue":
				return setString(&r.Queue, x)
			case "namespace":
				return setString(&r.Namespace, x)
			case "payload_content_type":
				return setString(&r.PayloadContentType, x)
			case "delay_seconds":
				return setInt(&r.DelaySeconds, x)
			case "visibility_timeout_seconds":
				return setInt(&r.VisibilityTimeoutSeconds, x)
			case "ttl_seconds":
				return setInt(&r.TTLSeconds, x)
			case "max_attempts":
				return setInt(&r.MaxAttempts, x)
			}
			return false
		})
	case *api.KeepAliveRequest:
		return decodeFlat(body, func(k []byte, x flatValue) bool {
			switch string(k) {
			case "key":
				return setString(&r.Key, x)
			case "namespace":
				return setString(&r.Namespace, x)
			case "lease_id":
				return setString(&r.LeaseID, x)
			case "txn_id":
				return setString(&r.TxnID, x)
			case "ttl_seconds":
				return setInt(&r.TTLSeconds, x)
			}
			return false
		})
	}
	return false
}
