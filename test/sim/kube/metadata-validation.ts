/**
 * The apiserver's object-metadata validation, as every create and update of a namespaced custom resource gets it
 * (kubernetes staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go ValidateObjectMetaAccessor, and
 * pkg/apis/meta/v1/validation/validation.go ValidateLabels; util/validation/validation.go IsDNS1123Subdomain,
 * IsQualifiedName, IsValidLabelValue). Messages follow those functions' wording.
 */

/** One `details.causes` entry of a 422 Status. */
export interface Cause {
  readonly reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueTooLong'
  readonly message: string
  readonly field: string
}

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?'
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`)
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const TOTAL_ANNOTATION_BYTES = 256 * 1024

const SUBDOMAIN_ERROR =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
const NAME_PART_ERROR =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
const LABEL_VALUE_ERROR =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

const invalid = (field: string, value: string, detail: string): Cause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
})

/** ValidateObjectMetaAccessor with NameIsDNSSubdomain, as for every custom resource. */
export function metadataCauses(metadata: {
  name?: string
  labels?: Record<string, unknown>
  annotations?: Record<string, unknown>
}): Cause[] {
  const causes: Cause[] = []
  const name = metadata.name ?? ''
  if (!name)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
    })
  else {
    if (name.length > 253) causes.push(invalid('metadata.name', name, 'must be no more than 253 characters'))
    if (!DNS1123_SUBDOMAIN.test(name)) causes.push(invalid('metadata.name', name, SUBDOMAIN_ERROR))
  }
  for (const [key, value] of Object.entries(metadata.labels ?? {})) {
    causes.push(...qualifiedNameCauses('metadata.labels', key))
    causes.push(...labelValueCauses(String(value)))
  }
  let bytes = 0
  for (const [key, value] of Object.entries(metadata.annotations ?? {})) {
    causes.push(...qualifiedNameCauses('metadata.annotations', key.toLowerCase()))
    bytes += key.length + String(value).length
  }
  if (bytes > TOTAL_ANNOTATION_BYTES)
    causes.push({
      reason: 'FieldValueTooLong',
      field: 'metadata.annotations',
      message: `Too long: must have at most ${TOTAL_ANNOTATION_BYTES} bytes`,
    })
  return causes
}

/** IsQualifiedName: `[prefix/]name`, prefix a DNS-1123 subdomain of at most 253, name at most 63 characters. */
function qualifiedNameCauses(field: string, key: string): Cause[] {
  const parts = key.split('/')
  if (parts.length > 2)
    return [
      invalid(
        field,
        key,
        `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
      ),
    ]
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]]
  const causes: Cause[] = []
  if (prefix !== undefined) {
    if (!prefix) causes.push(invalid(field, key, 'prefix part must be non-empty'))
    else if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))
      causes.push(invalid(field, key, `prefix part ${SUBDOMAIN_ERROR}`))
  }
  if (!name) causes.push(invalid(field, key, 'name part must be non-empty'))
  else {
    if (name.length > 63) causes.push(invalid(field, key, 'name part must be no more than 63 characters'))
    if (!QUALIFIED_NAME.test(name)) causes.push(invalid(field, key, NAME_PART_ERROR))
  }
  return causes
}

/** IsValidLabelValue. */
function labelValueCauses(value: string): Cause[] {
  const causes: Cause[] = []
  if (value.length > 63) causes.push(invalid('metadata.labels', value, 'must be no more than 63 characters'))
  if (!LABEL_VALUE.test(value)) causes.push(invalid('metadata.labels', value, LABEL_VALUE_ERROR))
  return causes
}
