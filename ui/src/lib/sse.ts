// Server-Sent Events over fetch. EventSource cannot send headers, and every request of the
// console names its namespace in one (X-Sandlot-Namespace); it also cannot be told to stop
// reconnecting on a 4xx. The parser follows the HTML standard's event-stream rules (fields
// `event`, `data`, `id`; blank line ends an event; `:` starts a comment); it is ~50 lines,
// and no maintained library parses a fetch body for Svelte without bringing EventSource's
// limits back.

export interface StreamEvent {
  event: string;
  data: string;
  id: string | null;
}

/** Feed it chunks of text; it returns the events each chunk completes. */
export class EventStreamParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #id: string | null = null;

  push(chunk: string): StreamEvent[] {
    this.#buffer += chunk;
    const events: StreamEvent[] = [];
    let newline: number;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.#buffer.slice(0, newline);
      const width = this.#buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (width === 1 && this.#buffer[newline] === "\r" && newline === this.#buffer.length - 1) {
        break;
      }
      this.#buffer = this.#buffer.slice(newline + width);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  #line(line: string): StreamEvent | null {
    if (line === "") {
      if (this.#data.length === 0 && !this.#event) return null;
      const event = { event: this.#event || "message", data: this.#data.join("\n"), id: this.#id };
      this.#event = "";
      this.#data = [];
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    return null;
  }
}

/** Read a streaming response's events until it ends or `signal` aborts; resolves then.
 *  An abort is an ordinary end, not an error. */
export async function readEvents(
  response: Response,
  onEvent: (event: StreamEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventStreamParser();
  const stop = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const event of parser.push(value)) onEvent(event);
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}
