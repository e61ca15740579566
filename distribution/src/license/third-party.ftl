<#-- THIRD-PARTY.txt: one block per bundled jar. Read by TarballIT: the first line of a block is
     the jar's file name in lib/. -->
<#function jarName p>
  <#local classifier = "">
  <#if p.artifact?? && p.artifact.classifier?? && p.artifact.classifier?has_content>
    <#local classifier = "-" + p.artifact.classifier>
  </#if>
  <#return p.artifactId + "-" + p.version + classifier + ".jar">
</#function>
Third-party software bundled in lib/ (${dependencyMap?size} jars), with the licenses their Maven
POMs declare. Generated at build time from those POMs; the full texts of the licenses are in
this folder, one file per license id (e.g. Apache-2.0.txt). Where a POM declares several licenses
(a choice, or parts under different licenses), all are listed. Each jar also carries its own
notices (META-INF/LICENSE, NOTICE), if any.

<#list dependencyMap as e>
<#assign p = e.getKey()/>
<#assign licenses = e.getValue()/>
lib/${jarName(p)}
  ${p.groupId}:${p.artifactId}:${p.version}  ${p.name!p.artifactId}  <${p.url!"no project URL"}>
<#list licenses as license>
  license: ${license}  (licenses/${license}.txt)
</#list>
<#list p.licenses as declared>
  declared: ${declared.name!"(no name)"}  <${declared.url!"no URL"}>
</#list>

</#list>
