// openapi.yaml, parsed once, for the tests that hold the server to it (openapi.test.ts, the authorization matrix).
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

export interface Parameter { name: string, in: string, required?: boolean, schema: JsonObject }
export interface Operation {
  operationId: string
  parameters?: Parameter[]
  requestBody?: { required?: boolean, content: Record<string, { schema: JsonObject }> }
  responses: Record<string, { description: string, content?: Record<string, { schema: JsonObject }> }>
  security?: Array<Record<string, string[]>>
}
type PathItem = Record<string, Operation> & { parameters?: Parameter[] }
export interface Document {
  openapi: string
  paths: Record<string, PathItem>
  components: { schemas: Record<string, JsonObject>, securitySchemes: Record<string, JsonObject> }
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch']
export const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Document & JsonObject

export function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Follows a local `$ref` (and a `$ref` to a `$ref`). */
export function deref<T> (value: T | { $ref: string }): T {
  let current: unknown = value
  while (isObject(current) && typeof current.$ref === 'string') {
    let target: unknown = doc
    for (const part of current.$ref.replace(/^#\//, '').split('/')) {
      if (!isObject(target) || !(part in target)) throw new Error(`unresolved $ref ${current.$ref}`)
      target = target[part.replace(/~1/g, '/').replace(/~0/g, '~')]
    }
    current = target
  }
  return current as T
}

/** Every documented operation, as METHOD and path (`/v1/queues/{name}`), with its parameters resolved. */
export function operations (): Array<{ method: string, path: string, operation: Operation, parameters: Parameter[] }> {
  const out = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = item[method]
      if (operation === undefined) continue
      const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) => deref<Parameter>(p))
      out.push({ method: method.toUpperCase(), path, operation, parameters })
    }
  }
  return out
}
