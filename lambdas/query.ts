/** `query`: message history, newest page first (PROTOCOL.md §4). */
import { queryHistory } from './core/messages';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('query', { session: true, run: queryHistory });
