package inventory

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// protobufMagic starts every protobuf-encoded Kubernetes object (runtime/serializer/protobuf).
var protobufMagic = []byte("k8s\x00")

// servicePage lists one page of Services in every namespace, reading the response into buf (kept
// from page to page) and decoding the list straight from it. The typed client reads every page into
// a new buffer grown by doubling and copies the payload once more out of its envelope before
// decoding it: on a 20,000-Service cluster that was a quarter of everything the audit allocated. The
// decoded objects do not point into buf (the generated decoders copy strings and bytes). A clientset
// without a REST client (client-go's fake, used by the demo and unit tests) is listed the usual way.
func servicePage(ctx context.Context, k kubernetes.Interface, opts metav1.ListOptions, buf *bytes.Buffer) (*corev1.ServiceList, error) {
	rc, ok := k.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || rc == nil {
		return k.CoreV1().Services("").List(ctx, opts)
	}
	body, err := rc.Get().Resource("services").VersionedParams(&opts, scheme.ParameterCodec).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("read the list of Services: %w", err)
	}
	return decodeServiceList(buf.Bytes())
}

// decodeServiceList decodes a ServiceList as the API server sent it: protobuf (the envelope read in
// place), else whatever the client's deserializer accepts (JSON).
func decodeServiceList(data []byte) (*corev1.ServiceList, error) {
	list := &corev1.ServiceList{}
	if !bytes.HasPrefix(data, protobufMagic) {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, list)
		if err != nil {
			return nil, fmt.Errorf("decode the list of Services: %w", err)
		}
		l, ok := obj.(*corev1.ServiceList)
		if !ok {
			return nil, fmt.Errorf("decode the list of Services: the server sent a %T", obj)
		}
		return l, nil
	}
	raw, err := envelopeRaw(data[len(protobufMagic):])
	if err != nil {
		return nil, fmt.Errorf("decode the list of Services: %w", err)
	}
	if err := list.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("decode the list of Services: %w", err)
	}
	return list, nil
}

// envelopeRaw returns the payload of a runtime.Unknown envelope (field 2, raw) without copying it,
// refusing an encoded payload (field 3, contentEncoding) or a content type other than protobuf
// (field 4), which the API server does not send for a protobuf list.
func envelopeRaw(b []byte) ([]byte, error) {
	var raw []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[m:]
		switch num {
		case 2:
			raw = v
		case 3:
			if len(v) > 0 {
				return nil, fmt.Errorf("the payload is encoded (%q)", v)
			}
		case 4:
			if len(v) > 0 && string(v) != "application/vnd.kubernetes.protobuf" {
				return nil, fmt.Errorf("the payload is %q", v)
			}
		}
	}
	if raw == nil {
		return nil, fmt.Errorf("the envelope holds no object")
	}
	return raw, nil
}
