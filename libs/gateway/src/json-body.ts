import express from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { parseByteSize } from '@app/settings';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([\w-]+)/i;

/**
 * The JSON body parser, with MAX_BODY_SIZE and errors that say what to fix
 * (Nest would otherwise reduce them to a bare 400).
 *
 * Every completion passes through here, so the common case — an
 * uncompressed UTF-8 JSON body, which is what the OpenAI SDKs send — is read
 * and parsed directly: body-parser's generic machinery (content-type and
 * charset parsing, iconv, on-finished, debug) cost more CPU than the parse.
 * Compressed bodies go to express.json, which inflates them. JSON is UTF-8
 * (RFC 8259): another declared charset is refused. Other content types are
 * left unread (the catch-all proxy streams them upstream). A parsed body keeps
 * the bytes it came in (inflated) as `req.rawBody`, Nest's RawBodyRequest
 * convention: that marks the body as read, and the catch-all proxy passes on
 * what the client sent. Bodies nested deeper than MAX_JSON_DEPTH are refused
 * from their bytes, before they are parsed (see json-depth.ts).
 */
/** A request as the parser leaves it: the parsed body, and the bytes it was parsed from. */
export type JsonRequest = IncomingMessage & { body?: unknown; rawBody?: Buffer };
export type JsonBodyParser = (req: JsonRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

/** Thrown from express.json's verify hook, which body-parser wraps as entity.verify.failed. */
class TooDeep extends Error {}

export function jsonBodyParser(limitSetting: string): JsonBodyParser {
  const limit = parseByteSize(limitSetting);
  const general = express.json({
    limit,
    type: ['application/json', 'application/*+json'],
    verify: (req, _res, buf) => {
      (req as JsonRequest).rawBody = buf;
      if (exceedsJsonDepth(buf)) throw new TooDeep();
    },
  });
  const tooLarge = () =>
    new GatewayError(GatewayErrorCode.BodyTooLarge, `The request body is larger than MAX_BODY_SIZE (${limitSetting}). Send less, or raise MAX_BODY_SIZE.`);
  const invalid = (message: string) =>
    new GatewayError(GatewayErrorCode.InvalidJson, `The request body is not valid JSON (${message}). Send a JSON object with Content-Type: application/json.`);
  const tooDeep = () =>
    new GatewayError(
      GatewayErrorCode.InvalidJson,
      `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep. Flatten it: send deep structures as a JSON string inside a field instead.`,
    );

  const fromBodyParser: JsonBodyParser = (req, res, next) =>
    general(req as never, res as never, (err?: unknown) => {
      if (!err) return next();
      const e = err as { type?: string; message?: string };
      if (e.type === 'entity.too.large') return next(tooLarge());
      if (err instanceof TooDeep) return next(tooDeep());
      if (e.type === 'entity.parse.failed') return next(invalid(e.message ?? 'unparsable'));
      return next(new GatewayError(GatewayErrorCode.BadRequest, `The request body could not be read: ${e.message}.`));
    });

  return (req, res, next) => {
    const type = req.headers['content-type'];
    if (type === undefined || !JSON_TYPE.test(type) || req.rawBody !== undefined) return next();
    // No body at all (a GET with a content-type): leave req.body unset, as body-parser does.
    if (req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined) return next();
    const charset = CHARSET.exec(type)?.[1].toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      req.resume();
      return next(new GatewayError(GatewayErrorCode.BadRequest, `JSON bodies must be UTF-8; this one declares charset=${charset}. Send it as UTF-8 (or drop the charset parameter).`));
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      // body-parser takes only `utf-*` charsets; `utf8` is accepted above, so it is here too.
      if (charset === 'utf8') req.headers['content-type'] = type.replace(/(charset\s*=\s*"?)utf8/i, '$1utf-8');
      return fromBodyParser(req, res, next);
    }

    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      req.resume();
      return next(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) {
        req.resume();
        return next(err);
      }
      const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      req.rawBody = raw;
      if (exceedsJsonDepth(raw)) return next(tooDeep());
      const text = raw.toString('utf8');
      try {
        // An empty body counts as {} (as body-parser does); the handler then says what is missing.
        req.body = text.length === 0 ? {} : JSON.parse(text);
      } catch (parseError) {
        return next(invalid((parseError as Error).message));
      }
      next();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(tooLarge());
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(new GatewayError(GatewayErrorCode.BadRequest, `The request body could not be read: ${err.message}.`));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}
