/**
 * A stand-in OTLP/HTTP trace receiver: records each request's headers and raw body, and decodes
 * bodies as `ExportTraceServiceRequest` with a schema written here from the OpenTelemetry
 * protocol's .proto files (field numbers of opentelemetry-proto v1), apart from the encoder
 * Herald uses, so that a test checks what a collector would read.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; bytes bytes_value = 7; }
}
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10; uint32 dropped_events_count = 12; uint32 dropped_links_count = 14;
  Status status = 15; fixed32 flags = 16;
}
`;

const requestType = protobuf.parse(OTLP_TRACE_PROTO, { keepCase: true }).root.lookupType('otlp.ExportTraceServiceRequest');

export interface DecodedKeyValue {
  key: string;
  value: { string_value?: string };
}

export interface DecodedSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  trace_state: string;
  name: string;
  kind: number;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
  attributes: DecodedKeyValue[];
  status?: { message: string; code: number };
  flags: number;
}

export interface DecodedExport {
  resource_spans: Array<{
    resource: { attributes: DecodedKeyValue[] };
    schema_url: string;
    scope_spans: Array<{ scope: { name: string; version: string }; spans: DecodedSpan[]; schema_url: string }>;
  }>;
}

/** Decodes an OTLP/HTTP protobuf trace export: ids as hex, 64-bit times as decimal strings. */
export function decodeTraceExport(body: Buffer): DecodedExport {
  const message = requestType.decode(body);
  return requestType.toObject(message, { longs: String, bytes: String, defaults: true, oneofs: false }) as unknown as DecodedExport;
}

/** Base64 (protobufjs' bytes-as-string) to hex. */
export function hex(base64: string): string {
  return Buffer.from(base64, 'base64').toString('hex');
}

export interface OtlpRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OtlpReceiver {
  url: string;
  requests: OtlpRequest[];
  /** The status to answer from now on (default 200). */
  answer(status: number, body?: string): void;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: OtlpRequest[] = [];
  let reply = { status: 200, body: '' };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(reply.status, { 'content-type': 'application/x-protobuf' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(status, body = '') {
      reply = { status, body };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
