export { useEsdbConnection } from './use-esdb-connection';
