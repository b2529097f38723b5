/**
 * CycloneDX 1.6 JSON through `@cyclonedx/cyclonedx-library`'s model and serializer. The library is
 * loaded on first use only, so commands that make no CycloneDX document do not pay for it.
 */
import type { Catalogue } from './catalogue.js';
import { isSpdxExpression } from './licence.js';
import { ociPurl, type SbomOptions } from './subject.js';

export async function cyclonedxDocument(catalogue: Catalogue, options: SbomOptions): Promise<string> {
  const { Contrib, Enums, Models, Serialize, Spec } = await import('@cyclonedx/cyclonedx-library');
  const licences = new Contrib.License.Factories.LicenseFactory((text) => {
    if (!isSpdxExpression(text)) throw new RangeError(`not an SPDX expression: ${text}`);
  });
  const { subject } = options;
  const bom = new Models.Bom({ serialNumber: undefined });
  bom.metadata.timestamp = options.created ?? new Date();
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, options.tool ?? 'wharf', { bomRef: 'wharf' }),
  );
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, subject.name, {
    bomRef: ociPurl(subject.name, subject.digest),
    version: subject.digest,
    purl: ociPurl(subject.name, subject.digest),
  });
  for (const base of options.bases ?? []) {
    const component = new Models.Component(Enums.ComponentType.Container, base.reference, {
      bomRef: `base:${ociPurl(base.reference, base.digest)}`,
      version: base.digest,
      purl: ociPurl(base.reference, base.digest),
    });
    component.properties.add(new Models.Property('wharf:base-image', 'true'));
    bom.components.add(component);
  }
  for (const found of catalogue.packages) {
    const component = new Models.Component(Enums.ComponentType.Library, found.name, {
      bomRef: found.purl,
      version: found.version,
      purl: found.purl,
    });
    if (found.licence !== undefined) component.licenses.add(licences.makeFromString(found.licence));
    // the names syft and the CycloneDX property taxonomy use for where in an image a package sits
    component.properties.add(new Models.Property('aquasecurity:trivy:LayerDiffID', found.layer));
    component.properties.add(new Models.Property('syft:location:0:path', found.path));
    bom.components.add(component);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}
