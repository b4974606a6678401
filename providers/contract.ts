/**
 * The types an adapter and the shared HTTP layer (`./http.js`) exchange: a request, its
 * response, and the client that sends it. Type declarations only, importing nothing, so that
 * `./types.js` (the adapter contract) can name the client without importing the HTTP layer,
 * which itself needs `ProviderConfig` from `./types.js`. A failure is a `DeliveryError`
 * (a class, in `./http.js`).
 */
export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Sent as-is; use `json` for a JSON body. */
  body?: string | Buffer;
  /** Serialised with JSON.stringify and sent with `Content-Type: application/json`. */
  json?: unknown;
  /** How much of the answer to read (default `MAX_ANSWER_BYTES`); raise it only for answers that are parsed whole. */
  maxAnswerBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The whole answer: one longer than `maxAnswerBytes` is a failure. */
  body: string;
}

export interface HttpClient {
  /**
   * Sends the request and resolves with the response when its status is 2xx. Any other
   * outcome throws a `DeliveryError` whose message is free of the provider's secrets.
   */
  send(req: HttpRequest): Promise<HttpResponse>;
  /** Replaces every sensitive value of the provider in `text` with `*****`. */
  mask(text: string): string;
}
