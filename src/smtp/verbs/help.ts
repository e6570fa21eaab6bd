// HELP [topic] (RFC 5321 §4.1.1.8): the command list, or one command's syntax.
import { type Context, pass, refuse, type SessionView, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { helpTopic, R, type Reply } from '../replies.ts';

type Help = Extract<Command, { verb: 'HELP' }>;

/**
 * §4.1.1.8 says HELP "MAY take an argument (e.g., any command name)". Known command names get their syntax;
 * any other topic gets 504 5.5.4 ("command parameter not implemented", RFC 5321 §4.2.4; X.5.4 "invalid
 * command arguments", RFC 3463), which is what an argument we do not implement means.
 */
export function checkHelp(_view: SessionView, cmd: Help): Verdict<Reply> {
  if (cmd.topic === null) return pass(R.help);
  const topic = helpTopic(cmd.topic);
  return topic === null ? refuse(R.helpUnknownTopic) : pass(topic);
}

export function proceedHelp(ctx: Context, _cmd: Help, answer: Reply): void {
  ctx.reply(answer);
}
