/**
 * joi-to-json's OpenAPI 3.1 parser class (the package's `parse()` wraps it). ./joi.ts extends it to
 * fill gaps in the conversion; these are the members it uses.
 */
declare module 'joi-to-json/lib/parsers/open-api-3.1.js' {
  export default class OpenApi31Parser {
    constructor(options?: object);
    parse(description: object, definitions?: object, level?: number): Record<string, unknown>;
    _setObjectProperties(schema: Record<string, unknown>, description: object, definitions: object, level: number): void;
    _setStringFieldProperties(schema: Record<string, unknown>, description: object): void;
  }
}
