/** The version Plateau reports (GET_VERSION, agent registration). */
export const VERSION = "0.1.0";
