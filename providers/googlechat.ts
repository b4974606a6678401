/**
 * `googlechat`: a Google Chat (cards v1) message posted to the space's webhook address.
 * Header title `kind/name.namespace`, subtitle the reporting controller; one section with the
 * message as a text paragraph (wrapped in red `<font>` for errors), and, when there is
 * metadata, a second section with one key/value widget per key. Null fields are written out,
 * as Go's encoding/json writes Flux's nil pointers.
 */
import { isError, objectTitle, sendGoJson, sortedMetadata } from './chat-format.js';
import { prepared, type ProviderAdapter } from './types.js';

export const googlechat: ProviderAdapter<{ url: string }> = {
  type: 'googlechat',
  prepare: (config) => prepared({ url: config.address }),
  async send(event, { prepared: { url }, http }) {
    const text = isError(event) ? `<font color="#ff0000">${event.message}</font>` : event.message;
    const sections: unknown[] = [{ header: '', widgets: [{ textParagraph: { text }, keyValue: null }] }];
    const metadata = sortedMetadata(event);
    if (metadata.length > 0) {
      sections.push({
        header: '',
        widgets: metadata.map(([topLabel, content]) => ({
          textParagraph: null,
          keyValue: { topLabel, content, contentMultiline: false, bottomLabel: null, icon: null },
        })),
      });
    }
    const payload = {
      cards: [
        {
          header: {
            title: objectTitle(event.involvedObject),
            subtitle: event.reportingController ?? '',
            imageUrl: null,
            imageStyle: null,
          },
          sections,
        },
      ],
    };
    await sendGoJson(http, url, payload);
  },
};
