import type { FastifyRequest } from 'fastify';
import { BadRequestError } from '../errors/domain-error.js';
import type { InstancesBody } from '../schemas/models.js';

const base64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;
const maxImageBytes = 32 * 1024 * 1024;

/**
 * The images of a /predict or /features call, in input order: multipart image files, or TF Serving's
 * JSON `{instances: [{b64}]}`. Problems name the instance (0-based) so a client can find the bad one.
 */
export async function readImageInputs(request: FastifyRequest, maxInstances: number): Promise<Buffer[]> {
  const images: Buffer[] = [];
  if (request.isMultipart()) {
    for await (const part of request.parts({ limits: { fileSize: maxImageBytes, files: maxInstances + 1 } })) {
      if (part.type !== 'file') continue;
      images.push(await part.toBuffer());
      if (images.length > maxInstances) break;
    }
  } else {
    const body = request.body as InstancesBody | undefined;
    if (!body || !Array.isArray(body.instances)) {
      throw new BadRequestError('send image files as multipart/form-data, or JSON {"instances":[{"b64":"…"}]}');
    }
    body.instances.forEach((instance, index) => {
      const text = instance.b64.replace(/\s+/g, '');
      if (text.length === 0) {
        throw new BadRequestError(`instances[${index}]: the image is empty`, { instance: index });
      }
      if (!base64.test(text) || text.length % 4 === 1) {
        throw new BadRequestError(`instances[${index}]: b64 is not valid base64`, { instance: index });
      }
      images.push(Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64'));
    });
  }
  if (images.length === 0) throw new BadRequestError('no images: send at least one');
  if (images.length > maxInstances) {
    throw new BadRequestError(`too many images: at most ${maxInstances} per call (PREDICT_MAX_INSTANCES)`, {
      limit: maxInstances,
    });
  }
  images.forEach((image, index) => {
    if (image.length === 0) throw new BadRequestError(`instances[${index}]: the image is empty`, { instance: index });
  });
  return images;
}
