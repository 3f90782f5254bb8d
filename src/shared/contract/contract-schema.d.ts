import type { ValidateFunction } from 'ajv'

/** The environment contract's schema, compiled ahead of time (scripts/compile-schemas.mjs). */
export declare const environmentContract: ValidateFunction
