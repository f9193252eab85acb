export { describeEventStoreContract, type EventStoreFixture } from './event-store.contract';
