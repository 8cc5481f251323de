// Twilio's own REST client, sent to ONELINK_TWILIO_API_URL instead of Twilio's hosts (tests point it
// at a fake). Retries are off: each caller has its own loop (a delivery's backoff, the next sweep).
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';

export class RedirectedRequestClient extends twilio.RequestClient {
  constructor(
    private readonly apiUrl: URL,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs, autoRetry: false });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const target = new URL(opts.uri);
    target.protocol = this.apiUrl.protocol;
    target.host = this.apiUrl.host;
    return super.request<TData>({ ...opts, uri: target.href });
  }
}
