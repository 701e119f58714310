/**
 * Reads the op types out of an .onnx file without loading it: a Stable Diffusion UNet with its weights inside is
 * one 1.7-3.4 GB protobuf, so the file is walked with positional reads, and every field that cannot hold a node
 * (initializers, tensor attributes, doc strings) is stepped over by its length without being read.
 * Field numbers follow onnx/onnx.proto.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { ModelError } from '../runtime/errors.ts';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** The fields on the way from a ModelProto to every NodeProto.op_type. */
const MODEL_GRAPH = 7;
const MODEL_FUNCTIONS = 25;
const GRAPH_NODE = 1;
const FUNCTION_NODE = 7;
const FUNCTION_ATTRIBUTE_PROTO = 11;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_GRAPH = 6;
const ATTRIBUTE_GRAPHS = 11;

/**
 * The op types of every node of the model at `path`: the main graph, the subgraphs node attributes hold
 * (If, Loop, Scan bodies, at any depth) and the model-local functions. External-data files are not read.
 */
export async function onnxOpTypes(path: string): Promise<Set<string>> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new ModelError('bundle_not_found', `cannot open ${path}`, { cause: error });
  });
  try {
    const reader = new WireReader(handle, (await handle.stat()).size, path);
    const ops = new Set<string>();
    await reader.fields(0, reader.size, async (field, start, end) => {
      if (field === MODEL_GRAPH) await graphOps(reader, start, end, ops);
      else if (field === MODEL_FUNCTIONS) await functionOps(reader, start, end, ops);
    });
    return ops;
  } finally {
    await handle.close();
  }
}

/** GraphProto: its nodes (field 1); the initializers (field 5), which hold the weights, are skipped unread. */
async function graphOps(reader: WireReader, start: number, end: number, ops: Set<string>): Promise<void> {
  await reader.fields(start, end, async (field, s, e) => {
    if (field === GRAPH_NODE) await nodeOps(reader, s, e, ops);
  });
}

/** FunctionProto: its nodes (field 7) and the default values of its attributes (field 11), which may be graphs. */
async function functionOps(reader: WireReader, start: number, end: number, ops: Set<string>): Promise<void> {
  await reader.fields(start, end, async (field, s, e) => {
    if (field === FUNCTION_NODE) await nodeOps(reader, s, e, ops);
    else if (field === FUNCTION_ATTRIBUTE_PROTO) await attributeOps(reader, s, e, ops);
  });
}

async function nodeOps(reader: WireReader, start: number, end: number, ops: Set<string>): Promise<void> {
  await reader.fields(start, end, async (field, s, e) => {
    if (field === NODE_OP_TYPE) ops.add(await reader.text(s, e));
    else if (field === NODE_ATTRIBUTE) await attributeOps(reader, s, e, ops);
  });
}

/** AttributeProto: only its graph-valued fields (g, graphs) can hold nodes. */
async function attributeOps(reader: WireReader, start: number, end: number, ops: Set<string>): Promise<void> {
  await reader.fields(start, end, async (field, s, e) => {
    if (field === ATTRIBUTE_GRAPH || field === ATTRIBUTE_GRAPHS) await graphOps(reader, s, e, ops);
  });
}

/**
 * Protobuf wire-format reading over a file handle, through a small window that is refilled on demand, so only
 * the bytes of tags, lengths and wanted strings are ever read.
 */
class WireReader {
  private static readonly WINDOW = 64 * 1024;
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly path: string,
  ) {}

  /**
   * Calls `onMessage(field, start, end)` for every length-delimited field of the message at [start, end), in
   * file order; the other wire types are stepped over. Nested messages are read only if `onMessage` reads them.
   */
  async fields(
    start: number,
    end: number,
    onMessage: (field: number, start: number, end: number) => Promise<void>,
  ): Promise<void> {
    let pos = start;
    while (pos < end) {
      const [tag, afterTag] = await this.varint(pos, end);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 0) this.fail(pos, 'field number 0');
      switch (wire) {
        case WIRE_VARINT:
          pos = (await this.varint(afterTag, end))[1];
          break;
        case WIRE_FIXED64:
          pos = afterTag + 8;
          break;
        case WIRE_FIXED32:
          pos = afterTag + 4;
          break;
        case WIRE_LENGTH_DELIMITED: {
          const [length, body] = await this.varint(afterTag, end);
          pos = body + length;
          if (pos > end) this.fail(afterTag, `a field of ${length} bytes runs past its message`);
          await onMessage(field, body, pos);
          break;
        }
        default:
          this.fail(pos, `wire type ${wire}`); // groups (3, 4) are not used by onnx.proto
      }
    }
    if (pos !== end) this.fail(end, 'a field runs past its message');
  }

  /** The UTF-8 string at [start, end). */
  async text(start: number, end: number): Promise<string> {
    const bytes = await this.bytes(start, end - start);
    return new TextDecoder().decode(bytes);
  }

  /** A varint at `pos` (before `end`) as a number (exact up to 2^53, far above any file offset) and the position after it. */
  private async varint(pos: number, end: number): Promise<[number, number]> {
    const bytes = await this.bytes(pos, Math.min(10, end - pos));
    let value = 0;
    let scale = 1;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return [value, pos + i + 1];
    }
    return this.fail(pos, 'a truncated varint');
  }

  /** `length` bytes at `pos`: from the window when they fit in it, read directly otherwise. */
  private async bytes(pos: number, length: number): Promise<Uint8Array> {
    if (length <= 0) return new Uint8Array(0);
    if (pos + length > this.size) this.fail(pos, 'the file ends early');
    const offset = pos - this.windowStart;
    if (offset >= 0 && offset + length <= this.window.length)
      return this.window.subarray(offset, offset + length);
    if (length > WireReader.WINDOW) return this.read(pos, length);
    this.window = await this.read(pos, Math.min(WireReader.WINDOW, this.size - pos));
    this.windowStart = pos;
    return this.window.subarray(0, length);
  }

  private async read(pos: number, length: number): Promise<Uint8Array> {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, pos);
    if (bytesRead !== length) this.fail(pos, 'the file ends early');
    return buffer;
  }

  private fail(pos: number, what: string): never {
    throw new ModelError(
      'runtime_load_failed',
      `${this.path} is not a readable ONNX model: ${what} at byte ${pos}`,
    );
  }
}
