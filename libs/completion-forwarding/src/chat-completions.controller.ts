import { Body, Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { Account, AccountInfo } from '@app/auth';
import { CHAT_COMPLETION_PATHS, ChatRouteParams } from '@app/routing-metadata';
import { ChatCompletionsService } from './chat-completions.service';
import { abortOnClientGone, writeForwardResult } from './response-writer';

@Controller()
export class ChatCompletionsController {
  constructor(private readonly chat: ChatCompletionsService) {}

  @Post(CHAT_COMPLETION_PATHS)
  @HttpCode(200)
  create(
    @Param() params: ChatRouteParams,
    @Body() body: unknown,
    @Account() account: AccountInfo,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return serveChatCompletion(this.chat, params, body, req.headers, account, res);
  }
}

/**
 * What a chat route does once the caller is authenticated and the body is
 * parsed: forward, then write the answer. The gateway's direct chat route
 * (libs/gateway, direct-chat-route.ts) calls this too, so both paths answer alike.
 * Rejects before anything was written (the caller sends the error) or after
 * a stream started (the caller ends the socket).
 */
export async function serveChatCompletion(
  chat: ChatCompletionsService,
  params: ChatRouteParams,
  body: unknown,
  headers: IncomingHttpHeaders,
  account: AccountInfo,
  res: ServerResponse,
): Promise<void> {
  const result = await chat.forward({ params, body, headers, account, signal: abortOnClientGone(res) });
  await writeForwardResult(res, result);
}
