export { UNREAD_COUNT_CAP, unreadCounts, unreadSummary } from './offline'; // moved: re-export until callers are updated
