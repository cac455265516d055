import { LOG_LEVELS, type LogLevel } from "./config";

export type Logger = Record<LogLevel, (msg: string, fields?: Record<string, unknown>) => void>;

/** One JSON object per line on stdout (the log shipper parses it); fields never override time/level/msg. */
export function createLogger(service: string, level: LogLevel, out: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const log =
    (lvl: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (LOG_LEVELS.indexOf(lvl) < min) return;
      out(`${JSON.stringify({ ...fields, time: new Date().toISOString(), level: lvl, service, msg })}\n`);
    };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
