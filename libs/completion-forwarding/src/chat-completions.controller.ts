import { Body, Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Account, AccountInfo } from '@app/auth';
import { CHAT_COMPLETION_PATHS, ChatRouteParams } from '@app/routing-metadata';
import { ChatCompletionsService } from './chat-completions.service';
import { writeForwardResult } from './response-writer';

@Controller()
export class ChatCompletionsController {
  constructor(private readonly chat: ChatCompletionsService) {}

  @Post(CHAT_COMPLETION_PATHS)
  @HttpCode(200)
  async create(
    @Param() params: ChatRouteParams,
    @Body() body: unknown,
    @Account() account: AccountInfo,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const result = await this.chat.forward({ params, body, headers: req.headers, account, signal: abort.signal });
    await writeForwardResult(res, result);
  }
}
