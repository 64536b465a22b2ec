// Type definitions for window.PortalConsent, the JS API of the Portal Consent
// loader (embed.js). The API exists as soon as embed.js has run; its state is
// known ("ready") once the portal's configuration has arrived.

/** The visitor's consent as the loader knows it. */
export interface ConsentState {
  /** False until the portal's policy has arrived; categories is then empty. */
  ready: boolean;
  /** True when a valid choice for the current policy revision is stored. */
  decided: boolean;
  /**
   * Every category of the policy, by id: required categories are always
   * true; the others are true only when the stored choice accepts them.
   */
  categories: Record<string, boolean>;
  /** True when the browser sends Global Privacy Control. */
  gpc: boolean;
  /** The policy revision the choice is for; null until ready. */
  revision: number | null;
  /** The random consent id of the stored choice (its proof); null without one. */
  id: string | null;
  /** When the choice was made (ISO 8601, UTC); null without one. */
  decidedAt: string | null;
}

export interface PortalConsent {
  /** The current state (a fresh object each call). */
  get(): ConsentState;
  /**
   * Whether a category may be used now: true for required categories once
   * the policy is known, and for optional ones the stored choice accepts.
   * False for unknown categories and before the policy has arrived.
   */
  accepted(category: string): boolean;
  /** Opens the preferences (loads the consent app when needed). */
  showPreferences(): void;
  /** Opens the cookie policy (loads the consent app when needed). */
  showPolicy(): void;
  /**
   * Calls fn with the state once the policy has arrived (at once when it has
   * already), or on each change of the visitor's choice. Returns a function
   * that removes the callback. Any other event name throws an Error.
   */
  on(event: "ready" | "consentchange", fn: (state: ConsentState) => void): () => void;
}

declare global {
  interface Window {
    readonly PortalConsent?: PortalConsent;
  }
  interface DocumentEventMap {
    /** Dispatched on document when the visitor's choice changes; detail is the new state. */
    consentchange: CustomEvent<ConsentState>;
  }
}
