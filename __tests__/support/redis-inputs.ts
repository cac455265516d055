/** Inputs for RedisCache's renderers that several tests render (units, shellcheck, real servers). */
import type { AclReloadScriptInput } from "../../constructs/redis/renderers/redis";

/** The acl-reload job of a master and one replica, as RedisCache renders it. */
export const ACL_RELOAD_INPUT: AclReloadScriptInput = {
  hosts: ["redis", "redis-replica-1"],
  port: 6379,
  liveFile: "/usr/local/etc/redis-acl/users.acl",
  expectedFile: "/etc/redis-acl-reload/expected.acl",
  passwordFile: "/run/secrets/redis_acl_reload_password",
  waitSeconds: 120,
};
