// What every role (api, bot, jobs) is given: one config, one database, one coordination, one logger.
import type { Config } from "./config.ts";
import type { Database } from "./db/index.ts";
import type { Coordination } from "./coord/types.ts";
import type { Logger } from "./log.ts";

export interface AppContext {
  config: Config;
  db: Database;
  coord: Coordination;
  log: Logger;
}
