/**
 * Well-formed Unicode: a JavaScript string may hold a lone UTF-16 surrogate (JSON lets a client
 * send one as `"\ud800"`), which no encoding can represent. (String.prototype.isWellFormed is
 * ES2024, beyond the TypeScript library this project targets.)
 */
const LONE_SURROGATE = /\p{Cs}/u
const LONE_SURROGATES = /\p{Cs}/gu

export const isWellFormed = (value: string): boolean => !LONE_SURROGATE.test(value)

/** Each lone surrogate replaced by U+FFFD, as a UTF-8 encoder would. */
export const toWellFormed = (value: string): string => value.replace(LONE_SURROGATES, '\uFFFD')
