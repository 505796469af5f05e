import { Body, Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Account, AccountInfo } from '@app/auth';
import { CHAT_COMPLETION_PATHS, ChatRouteParams } from '@app/routing-metadata';
import { ChatCompletionsService } from './chat-completions.service';

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
    return this.chat.serve(params, body, req.headers, account, res);
  }
}
