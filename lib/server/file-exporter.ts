// TRACING_EXPORTER_URL=file://DIR[?limit=BYTES]: OTLP JSON (the protobuf JSON
// mapping, ids in hex, as the OpenTelemetry project's own JSON serializer writes
// it), one export request per line, in DIR/pulsegate-traces.jsonl. Past `limit`
// bytes the file is renamed with the time it was closed and a new one started, as
// Teleport's file exporter rotates. Each line is written whole or not at all
// (appendFile), so a reader never sees half a request.
import { appendFile, mkdir, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'

export const TRACE_FILE = 'pulsegate-traces.jsonl'

export class FileSpanExporter implements SpanExporter {
  private readonly dir: string
  private readonly limitBytes: number
  private size: number | undefined
  /** Exports are written one after another, so lines never interleave. */
  private writing: Promise<void> = Promise.resolve()

  constructor(dir: string, limitBytes: number) {
    this.dir = dir
    this.limitBytes = limitBytes
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const bytes = JsonTraceSerializer.serializeRequest(spans)
    if (!bytes) return done({ code: ExportResultCode.FAILED, error: new Error('the spans could not be serialized') })
    this.writing = this.writing.then(() => this.write(Buffer.concat([bytes, Buffer.from('\n')]))).then(
      () => done({ code: ExportResultCode.SUCCESS }),
      (error: unknown) => done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    )
  }

  private async write(line: Buffer): Promise<void> {
    const file = join(this.dir, TRACE_FILE)
    if (this.size === undefined) {
      await mkdir(this.dir, { recursive: true })
      this.size = await stat(file).then((s) => s.size, () => 0)
    }
    // A new file once this line would take the current one past the limit (a first line always goes in).
    if (this.size > 0 && this.size + line.byteLength > this.limitBytes) {
      await rename(file, join(this.dir, `pulsegate-traces-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`))
      this.size = 0
    }
    await appendFile(file, line)
    this.size += line.byteLength
  }

  async forceFlush(): Promise<void> {
    await this.writing
  }

  async shutdown(): Promise<void> {
    await this.writing
  }
}
