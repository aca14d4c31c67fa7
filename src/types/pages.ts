/**
 * Pages of items: the listings (`GET /allocations`, `GET /pins?local=true`)
 * move pins a page at a time, one await per page instead of one per pin
 * (the generator hops were about as costly as encoding the JSON).
 */

/** items per page when an item stream is grouped into pages */
export const PAGE_SIZE = 256

/** Groups the items of `source` into arrays of up to `size`, in order (closing `source` when closed). */
export async function* pagesOf<T>(source: AsyncIterable<T>, size = PAGE_SIZE): AsyncGenerator<T[]> {
  let page: T[] = []
  for await (const item of source) {
    page.push(item)
    if (page.length >= size) {
      yield page
      page = []
    }
  }
  if (page.length > 0) yield page
}
