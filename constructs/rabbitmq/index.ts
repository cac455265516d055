/** Public API of the rabbitmq module. */
export * from "./rabbit-broker";
export * from "./renderers/rabbitmq";
export * from "./renderers/rabbitmq-definitions";
export * from "./rabbit-backup";
export * from "./renderers/rabbitmq-backup";
export * from "./renderers/rabbitmq-users";
