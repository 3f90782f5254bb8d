/**
 * The protobuf bodies kubectl sends for built-in kinds. client-go asks for `application/vnd.kubernetes.protobuf`
 * on every built-in type (kubectl's `auth can-i` and `auth whoami` POST their reviews that way), so an apiserver that
 * read only JSON would see an empty review. Only the kinds kubectl posts here are decoded.
 */

const PROTOBUF = 'application/vnd.kubernetes.protobuf'
/** k8s.io/apimachinery pkg/runtime/serializer/protobuf/protobuf.go: every body starts with this magic. */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

/** A request body as JSON text: protobuf bodies of known kinds decoded, anything else as UTF-8. */
export function bodyAsJson(contentType: string | undefined, raw: Buffer): string {
  if ((contentType ?? '').split(';')[0]?.trim() !== PROTOBUF) return raw.toString('utf8')
  const decoded = decodeObject(raw)
  if (!decoded)
    throw Object.assign(new Error(`the body of the request was in an unknown format - ${PROTOBUF} of this kind`), {
      code: 415,
    })
  return JSON.stringify(decoded)
}

type Fields = Map<number, (Buffer | number)[]>

/** The runtime.Unknown envelope (k8s.io/apimachinery pkg/runtime/generated.proto): typeMeta 1, raw 2. */
function decodeObject(raw: Buffer): Record<string, unknown> | undefined {
  if (!raw.subarray(0, 4).equals(MAGIC)) return undefined
  const unknown = fields(raw.subarray(4))
  const typeMeta = fields(bytes(unknown, 1))
  const apiVersion = text(typeMeta, 1)
  const kind = text(typeMeta, 2)
  const object = fields(bytes(unknown, 2))
  if (apiVersion === 'authorization.k8s.io/v1' && kind === 'SelfSubjectAccessReview')
    return { apiVersion, kind, metadata: {}, spec: accessReviewSpec(fields(bytes(object, 2))) }
  if (apiVersion === 'authentication.k8s.io/v1' && kind === 'SelfSubjectReview')
    return { apiVersion, kind, metadata: {} }
  return undefined
}

/**
 * SelfSubjectAccessReviewSpec (k8s.io/api authorization/v1 generated.proto): resourceAttributes 1 {namespace 1,
 * verb 2, group 3, version 4, resource 5, subresource 6, name 7}, nonResourceAttributes 2 {path 1, verb 2}.
 */
function accessReviewSpec(spec: Fields): Record<string, unknown> {
  const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name']
  if (spec.has(1)) {
    const attributes = fields(bytes(spec, 1))
    return {
      resourceAttributes: Object.fromEntries(
        names.flatMap((name, i) => (attributes.has(i + 1) ? [[name, text(attributes, i + 1)]] : [])),
      ),
    }
  }
  const nonResource = fields(bytes(spec, 2))
  return { nonResourceAttributes: { path: text(nonResource, 1), verb: text(nonResource, 2) } }
}

/** The protobuf wire format: varints (type 0) and length-delimited fields (type 2), which is all these use. */
function fields(buffer: Buffer): Fields {
  const out: Fields = new Map()
  let at = 0
  const varint = (): number => {
    let value = 0
    let shift = 0
    for (;;) {
      const byte = buffer[at++] ?? 0
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80 || at >= buffer.length) return value
      shift += 7
    }
  }
  while (at < buffer.length) {
    const key = varint()
    const [field, type] = [Math.floor(key / 8), key & 7]
    let value: Buffer | number
    if (type === 0) value = varint()
    else if (type === 2) {
      const length = varint()
      value = buffer.subarray(at, at + length)
      at += length
    } else break
    out.set(field, [...(out.get(field) ?? []), value])
  }
  return out
}

function bytes(message: Fields, field: number): Buffer {
  const value = message.get(field)?.[0]
  return Buffer.isBuffer(value) ? value : Buffer.alloc(0)
}

function text(message: Fields, field: number): string {
  return bytes(message, field).toString('utf8')
}
