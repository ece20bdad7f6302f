/** The overload section's goal for a refusal: a 503 is "fast" when it comes within this many ms. */
export const FAST_REFUSAL_MS = 10
