export { connectNats, parseServers, inboxPrefixFor, type ConnectOptions } from './connect.ts';
