/** numeric(14,2) in input: twelve digits before the point at most, two after, never negative. */
export const AMOUNT_PATTERN = '^(0|[1-9][0-9]{0,11})(\\.[0-9]{1,2})?$';
